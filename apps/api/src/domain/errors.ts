import { z } from 'zod';

export const errorStatus = {
  VALIDATION_FAILED: 400,
  INVALID_SIGNATURE: 400,
  UNAUTHORIZED: 401,
  INVALID_CREDENTIALS: 401,
  INVALID_CODE: 401,
  TOKEN_REUSED: 401,
  FORBIDDEN: 403,
  NOT_VERIFIED: 403,
  BANNED: 403,
  NOT_FOUND: 404,
  CONFLICT: 409,
  MISMATCHED_DEVICES: 409,
  STALE_DEVICES: 410,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  // Only a download's Range header outside the blob (attachments' blob route).
  RANGE_NOT_SATISFIABLE: 416,
  RATE_LIMITED: 429,
  INTERNAL: 500,
  UNAVAILABLE: 503,
} as const;

export type ErrorCode = keyof typeof errorStatus;

/** The one error type services throw; every transport maps it from the code alone. */
export class AppError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details: Record<string, unknown> = {},
    /** Seconds until a rate-limited caller may retry. */
    readonly retryAfterS?: number,
  ) {
    super(message);
    this.name = 'AppError';
  }

  get status(): number {
    return errorStatus[this.code];
  }
}

export const isAppError = (e: unknown): e is AppError => e instanceof AppError;

// What a dependency outage looks like from here: socket errors, PostgreSQL's connection-exception
// and shutdown SQLSTATEs, Prisma's "can't reach" codes, the pool's and ioredis's own messages.
const OUTAGE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENOTCONN',
  '57P01',
  '57P02',
  '57P03',
  'P1001',
  'P1002',
  'P1008',
  'P1017',
  'P2024',
]);
const OUTAGE_MESSAGE =
  /Connection terminated|timeout exceeded when trying to connect|Connection is closed|connect ECONNREFUSED|Client has encountered a connection error|MaxRetriesPerRequest|Stream isn't writeable|terminating connection/i;

/**
 * True when an error means a dependency (PostgreSQL, Redis, storage) is unreachable rather than a
 * bug: the client gets 503 UNAVAILABLE (retry later, maybe elsewhere) instead of 500.
 */
export function isDependencyOutage(e: unknown, depth = 0): boolean {
  if (!e || typeof e !== 'object' || depth > 3) return false;
  const err = e as { code?: unknown; message?: unknown; cause?: unknown; name?: unknown };
  if (typeof err.code === 'string' && (OUTAGE_CODES.has(err.code) || err.code.startsWith('08'))) return true;
  if (err.name === 'MaxRetriesPerRequestError') return true;
  if (typeof err.message === 'string' && OUTAGE_MESSAGE.test(err.message)) return true;
  return isDependencyOutage(err.cause, depth + 1);
}

/** Anything thrown below a transport, as the contract error it becomes (5xx reveal nothing). */
export function asAppError(e: unknown): AppError {
  if (isAppError(e)) return e;
  if (isDependencyOutage(e)) return new AppError('UNAVAILABLE', 'a backing service is unavailable; retry shortly');
  return new AppError('INTERNAL', 'internal error');
}

export const errorCodes = Object.keys(errorStatus) as [ErrorCode, ...ErrorCode[]];

/** The one error body of every REST error response (and of the OpenAPI document's `ErrorBody` component). */
export const ErrorBody = z
  .object({
    error: z.object({
      code: z.enum(errorCodes),
      message: z.string(),
      details: z.record(z.string(), z.unknown()),
    }),
  })
  .meta({ id: 'ErrorBody', description: 'Every error response has this body; `code` is one of the contract codes.' });

export type ErrorBody = z.infer<typeof ErrorBody>;

export function errorBody(e: AppError): ErrorBody {
  return { error: { code: e.code, message: e.message, details: e.details } };
}
