import { z } from 'zod';

export const BASE64_RE = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
export const BASE64_MAX_CHARS = 4 * 1024 * 1024;

/** Standard base64 with padding (RFC 4648 §4); anything else is rejected, never repaired. */
export const base64 = z.string().max(BASE64_MAX_CHARS).regex(BASE64_RE, 'must be standard base64 with padding');

/** The decoded size of standard, padded base64 (what `base64` admits), computed without decoding it. */
export const base64Bytes = (b64: string) => (b64.length / 4) * 3 - (b64.endsWith('==') ? 2 : b64.endsWith('=') ? 1 : 0);

export const uuid = z.uuid({ message: 'must be a UUID' });
/** The pattern `uuid` checks (zod's own), for hand-written fast paths that must accept exactly the same. */
export const UUID_RE = z.regexes.uuid();

/**
 * C0 control characters and DEL. PostgreSQL refuses NUL in text outright (a 500 that, through
 * Prisma's batched lookups, failed other users' queries too); the rest have no place in a name or a
 * login, so every free-text field that can reach the database rejects them at the edge.
 */
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point.
const CONTROL_CHARS = /[\u0000-\u001f\u007f]/;
/** A string without control characters: 400 `VALIDATION_FAILED`, never a database error. */
export const plainText = () => z.string().refine((s) => !CONTROL_CHARS.test(s), 'must not contain control characters');
/** The same rule for values built elsewhere (query strings, frame fields). */
export function hasControlChars(s: string): boolean {
  return CONTROL_CHARS.test(s);
}
export const deviceId = z.coerce.number().int().min(1).max(2_147_483_647);

// Reply-side building blocks. Replies are written by the server, so these document the format and are
// checked cheaply by the response serializer (no base64 regex over large ciphertexts).

/** Standard base64 with padding, as the server writes it. */
export const base64Out = z.string().meta({ contentEncoding: 'base64', description: 'standard base64 with padding' });
/** ISO-8601 UTC timestamp, e.g. `2026-11-24T10:00:00.000Z`. */
export const timestamp = z.iso.datetime();
export const deviceIdOut = z.number().int().min(1).max(2_147_483_647);
