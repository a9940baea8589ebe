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
