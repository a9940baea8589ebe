import { Metadata, type StatusObject, status } from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { AppError, asAppError, type ErrorCode, isAppError } from '../../domain/errors.js';
import type { StreamEnd } from '../../services/messaging/messaging.schemas.js';

/** The one gRPC mapping of the contract's codes (documented in packages/proto/README.md). */
const grpcStatus: Record<ErrorCode, status> = {
  VALIDATION_FAILED: status.INVALID_ARGUMENT,
  INVALID_SIGNATURE: status.INVALID_ARGUMENT,
  UNSUPPORTED_MEDIA_TYPE: status.INVALID_ARGUMENT,
  RANGE_NOT_SATISFIABLE: status.OUT_OF_RANGE,
  UNAUTHORIZED: status.UNAUTHENTICATED,
  INVALID_CREDENTIALS: status.UNAUTHENTICATED,
  INVALID_CODE: status.UNAUTHENTICATED,
  TOKEN_REUSED: status.UNAUTHENTICATED,
  FORBIDDEN: status.PERMISSION_DENIED,
  NOT_VERIFIED: status.PERMISSION_DENIED,
  BANNED: status.PERMISSION_DENIED,
  NOT_FOUND: status.NOT_FOUND,
  // On gRPC, CONFLICT means "the account's state disagrees with this call" (identity key changed,
  // stream replaced by a newer one), never "already exists": ABORTED tells clients to re-read and retry.
  CONFLICT: status.ABORTED,
  MISMATCHED_DEVICES: status.FAILED_PRECONDITION,
  STALE_DEVICES: status.FAILED_PRECONDITION,
  PAYLOAD_TOO_LARGE: status.RESOURCE_EXHAUSTED,
  RATE_LIMITED: status.RESOURCE_EXHAUSTED,
  UNAVAILABLE: status.UNAVAILABLE,
  INTERNAL: status.INTERNAL,
};

/** How a live stream ends when the service retires it; the WebSocket closes with 4401/4403/4409 instead. */
const streamEndCode: Record<StreamEnd['closeCode'], ErrorCode> = {
  4401: 'UNAUTHORIZED',
  4403: 'BANNED',
  4409: 'CONFLICT',
};

export function streamEndError(end: StreamEnd): AppError {
  return new AppError(streamEndCode[end.closeCode], end.reason);
}

const MAX_DETAILS_CHARS = 4096;

/** Metadata values must be printable ASCII: escape the rest so any JSON detail survives. */
const asciiJson = (v: unknown) =>
  JSON.stringify(v).replace(/[^\x20-\x7e]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);

/**
 * Anything thrown by a handler → a gRPC status. Trailers carry what REST puts in the body:
 * `error-code` (the contract's code), `error-details` (JSON, when there are details) and, for
 * RATE_LIMITED, `retry-after` in seconds. Unexpected errors are logged and say nothing more.
 */
export function toStatus(err: unknown, log: Logger): StatusObject {
  const e = asAppError(err);
  // UNAVAILABLE is left out: it is a dependency's or the server's state (health says so), and a
  // shutdown would log one line per live stream.
  if (!isAppError(err)) log.error({ err }, 'grpc call failed');
  else if (e.code === 'INTERNAL') log.error({ code: e.code, reason: e.message }, 'grpc call failed');
  const metadata = new Metadata();
  metadata.set('error-code', e.code);
  // Trailers share HTTP/2's header-list limit (8 KiB by default in grpc-js clients): details that
  // would not fit are left out rather than breaking the stream (the code still says what happened).
  const details = Object.keys(e.details).length ? asciiJson(e.details) : '';
  if (details && details.length <= MAX_DETAILS_CHARS) metadata.set('error-details', details);
  if (e.code === 'RATE_LIMITED' && e.retryAfterS !== undefined) metadata.set('retry-after', String(e.retryAfterS));
  const message = e.message.length > MAX_DETAILS_CHARS ? `${e.message.slice(0, MAX_DETAILS_CHARS)}…` : e.message;
  return { code: grpcStatus[e.code], details: message, metadata };
}
