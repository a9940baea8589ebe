import type { z } from 'zod';
import { AppError } from './errors.js';

/**
 * At most this many issues are reported, each field name at most FIELD_CHARS long. A hostile body
 * (thousands of broken envelopes, a megabyte-long unknown key) used to be echoed back whole: on
 * gRPC the issues go into the `error-details` trailer, and trailers of hundreds of KiB broke the
 * HTTP/2 stream, so the client saw UNAVAILABLE or no answer at all (found by the gRPC fuzz).
 */
export const MAX_ISSUES = 20;
const FIELD_CHARS = 200;
const clip = (s: string) => (s.length > FIELD_CHARS ? `${s.slice(0, FIELD_CHARS)}…` : s);

/** Zod issues as the contract's `details.issues`: the field (or unknown keys) and what is wrong. */
export function zodIssues(error: z.ZodError): Array<{ field: string; message: string }> {
  return error.issues.slice(0, MAX_ISSUES).map((i) => {
    const keys = (i as { keys?: string[] }).keys;
    return { field: clip(keys?.length ? keys.join(',') : i.path.join('.') || 'body'), message: clip(i.message) };
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
