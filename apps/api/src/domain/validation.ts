import type { z } from 'zod';
import { AppError } from './errors.js';

/** Parses with a zod schema; failures become the contract's VALIDATION_FAILED naming the field. */
export function parseOrThrow<S extends z.ZodType>(schema: S, value: unknown): z.infer<S> {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  const issues = r.error.issues.map((i) => {
    const keys = (i as { keys?: string[] }).keys;
    return { field: keys?.length ? keys.join(',') : i.path.join('.') || 'body', message: i.message };
  });
  const first = issues[0];
  throw new AppError('VALIDATION_FAILED', first ? `${first.field}: ${first.message}` : 'invalid input', { issues });
}
