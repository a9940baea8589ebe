import type { z } from 'zod';
import { AppError } from './errors.js';

/** Zod issues as the contract's `details.issues`: the field (or unknown keys) and what is wrong. */
export function zodIssues(error: z.ZodError): Array<{ field: string; message: string }> {
  return error.issues.map((i) => {
    const keys = (i as { keys?: string[] }).keys;
    return { field: keys?.length ? keys.join(',') : i.path.join('.') || 'body', message: i.message };
  });
}

export function validationError(error: z.ZodError): AppError {
  const issues = zodIssues(error);
  const first = issues[0];
  return new AppError('VALIDATION_FAILED', first ? `${first.field}: ${first.message}` : 'invalid input', { issues });
}

/** Parses with a zod schema; failures become the contract's VALIDATION_FAILED naming the field. */
export function parseOrThrow<S extends z.ZodType>(schema: S, value: unknown): z.infer<S> {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  throw validationError(r.error);
}
