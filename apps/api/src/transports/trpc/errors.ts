import { TRPCError } from '@trpc/server';
import type { TRPC_ERROR_CODE_KEY } from '@trpc/server/rpc';
import { ZodError } from 'zod';
import { type AppError, type ErrorCode, isAppError, isDependencyOutage } from '../../domain/errors.js';
import { validationError } from '../../domain/validation.js';

const trpcCode: Record<ErrorCode, TRPC_ERROR_CODE_KEY> = {
  VALIDATION_FAILED: 'BAD_REQUEST',
  INVALID_SIGNATURE: 'BAD_REQUEST',
  UNAUTHORIZED: 'UNAUTHORIZED',
  INVALID_CREDENTIALS: 'UNAUTHORIZED',
  INVALID_CODE: 'UNAUTHORIZED',
  TOKEN_REUSED: 'UNAUTHORIZED',
  FORBIDDEN: 'FORBIDDEN',
  NOT_VERIFIED: 'FORBIDDEN',
  BANNED: 'FORBIDDEN',
  NOT_FOUND: 'NOT_FOUND',
  CONFLICT: 'CONFLICT',
  MISMATCHED_DEVICES: 'CONFLICT',
  STALE_DEVICES: 'PRECONDITION_FAILED',
  PAYLOAD_TOO_LARGE: 'PAYLOAD_TOO_LARGE',
  UNSUPPORTED_MEDIA_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  RANGE_NOT_SATISFIABLE: 'BAD_REQUEST',
  RATE_LIMITED: 'TOO_MANY_REQUESTS',
  INTERNAL: 'INTERNAL_SERVER_ERROR',
  UNAVAILABLE: 'SERVICE_UNAVAILABLE',
};

export function toTrpcError(e: AppError): TRPCError {
  return new TRPCError({ code: trpcCode[e.code], message: e.message, cause: e });
}

/** The contract's error code and details, for `data` of every tRPC error. */
export function contractError(error: TRPCError): {
  code: ErrorCode;
  details: Record<string, unknown>;
  retryAfter?: number;
} {
  const cause = error.cause;
  if (isAppError(cause)) {
    return {
      code: cause.code,
      details: cause.details,
      ...(cause.retryAfterS ? { retryAfter: cause.retryAfterS } : {}),
    };
  }
  if (cause instanceof ZodError) return { code: 'VALIDATION_FAILED', details: validationError(cause).details };
  if (error.code === 'PARSE_ERROR' || error.code === 'BAD_REQUEST') return { code: 'VALIDATION_FAILED', details: {} };
  if (error.code === 'NOT_FOUND') return { code: 'NOT_FOUND', details: {} };
  if (error.code === 'PAYLOAD_TOO_LARGE') return { code: 'PAYLOAD_TOO_LARGE', details: {} };
  if (error.code === 'METHOD_NOT_SUPPORTED') return { code: 'VALIDATION_FAILED', details: {} };
  if (isDependencyOutage(cause)) return { code: 'UNAVAILABLE', details: {} };
  return { code: 'INTERNAL', details: {} };
}
