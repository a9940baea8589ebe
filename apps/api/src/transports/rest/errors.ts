import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod';
import { AppError, errorBody, isAppError } from '../../domain/errors.js';

/** Maps anything thrown in a route to the contract's error body; 5xx reveal nothing. */
export function toAppError(err: unknown): AppError {
  if (isAppError(err)) return err;
  if (hasZodFastifySchemaValidationErrors(err)) {
    const where = (err as { validationContext?: string }).validationContext ?? 'body';
    const issues = err.validation.map((v) => {
      const path = v.instancePath.replace(/^\//, '').replaceAll('/', '.');
      const unknownKeys = (v.params as { keys?: string[] } | undefined)?.keys;
      const field = unknownKeys?.length ? unknownKeys.join(',') : path;
      return { field: field || where, message: v.message ?? 'invalid' };
    });
    const first = issues[0];
    return new AppError('VALIDATION_FAILED', first ? `${first.field}: ${first.message}` : 'invalid request', {
      in: where,
      issues,
    });
  }
  const fe = err as Partial<FastifyError> & { status?: number };
  switch (fe.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new AppError('PAYLOAD_TOO_LARGE', 'request body is larger than 2 MiB');
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new AppError('UNSUPPORTED_MEDIA_TYPE', 'request body must be application/json');
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new AppError('VALIDATION_FAILED', 'request body is not valid JSON');
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new AppError('VALIDATION_FAILED', 'content-length does not match the body');
  }
  if (fe.statusCode === 400 && err instanceof SyntaxError) {
    return new AppError('VALIDATION_FAILED', 'request body is not valid JSON');
  }
  if (fe.statusCode === 413) return new AppError('PAYLOAD_TOO_LARGE', 'request body is too large');
  if (fe.statusCode === 415) return new AppError('UNSUPPORTED_MEDIA_TYPE', 'request body must be application/json');
  return new AppError('INTERNAL', 'internal error');
}

export function sendError(reply: FastifyReply, e: AppError): FastifyReply {
  if (e.code === 'RATE_LIMITED' && e.retryAfterS !== undefined) reply.header('retry-after', String(e.retryAfterS));
  return reply.status(e.status).send(errorBody(e));
}

export function errorHandler(err: unknown, req: FastifyRequest, reply: FastifyReply): FastifyReply {
  const e = toAppError(err);
  if (e.status >= 500) req.log.error({ err }, 'request failed');
  return sendError(reply, e);
}
