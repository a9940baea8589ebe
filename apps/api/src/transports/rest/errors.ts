import type { Socket } from 'node:net';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod';
import { AppError, asAppError, errorBody, isAppError, isDependencyOutage } from '../../domain/errors.js';

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
    // Never echo the URL back: it is attacker-controlled text.
    case 'FST_ERR_BAD_URL':
      return new AppError('VALIDATION_FAILED', 'the URL is not validly percent-encoded');
    case 'FST_ERR_MAX_PARAM_LENGTH':
      return new AppError('VALIDATION_FAILED', 'a path parameter is too long');
    case 'FST_ERR_ASYNC_CONSTRAINT':
      return new AppError('INTERNAL', 'internal error');
  }
  if (fe.statusCode === 400 && err instanceof SyntaxError) {
    return new AppError('VALIDATION_FAILED', 'request body is not valid JSON');
  }
  if (fe.statusCode === 413) return new AppError('PAYLOAD_TOO_LARGE', 'request body is too large');
  if (fe.statusCode === 415) return new AppError('UNSUPPORTED_MEDIA_TYPE', 'request body must be application/json');
  return asAppError(err);
}

export function sendError(reply: FastifyReply, e: AppError): FastifyReply {
  if (e.code === 'RATE_LIMITED' && e.retryAfterS !== undefined) reply.header('retry-after', String(e.retryAfterS));
  return reply.status(e.status).send(errorBody(e));
}

/** A client that hung up mid-request: nothing to answer, and not a server error. */
function clientWentAway(err: unknown, req: FastifyRequest): boolean {
  const code = (err as { code?: unknown }).code;
  // (Not req.raw.destroyed: a fully read request body is destroyed too.)
  // ECONNRESET alone says nothing about the client: PostgreSQL or Redis resetting the connection
  // mid-query raises it too, and that is a 503 (dependency outage), not the client's 400.
  return (
    req.raw.socket?.destroyed === true ||
    (code === 'ECONNRESET' && req.raw.aborted) ||
    code === 'ECONNABORTED' ||
    code === 'ERR_STREAM_PREMATURE_CLOSE'
  );
}

export function errorHandler(err: unknown, req: FastifyRequest, reply: FastifyReply): FastifyReply {
  if (clientWentAway(err, req)) {
    req.log.info({ code: (err as { code?: unknown }).code }, 'client closed the connection mid-request');
    return reply.status(400).send(errorBody(new AppError('VALIDATION_FAILED', 'request aborted')));
  }
  const e = toAppError(err);
  // A service's own 503 (a dependency down) was already logged where it happened; only the
  // unexpected gets an error line with its stack.
  if (e.status >= 500 && !isAppError(err)) {
    if (isDependencyOutage(err)) req.log.warn({ err: String(err) }, 'request failed: dependency unavailable');
    else req.log.error({ err }, 'request failed');
  } else if (e.status >= 500) req.log.warn({ code: e.code, reason: e.message }, 'request failed');
  return sendError(reply, e);
}

/** Fastify's router errors (before any route runs), in the contract's body. */
export function frameworkErrors(err: FastifyError, _req: FastifyRequest, reply: FastifyReply): void {
  void sendError(reply, toAppError(err));
}

const rawReply = (status: number, reason: string, e: AppError) => {
  const body = JSON.stringify(errorBody(e));
  return (
    `HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json; charset=utf-8\r\n` +
    `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`
  );
};

/**
 * Errors of Node's HTTP parser (malformed requests, oversized headers, request timeouts) happen
 * before Fastify sees a request: answered here, in the contract's body, then the socket is closed.
 * Oversized headers map to the contract's 413; a request that did not arrive in time to a 400.
 */
export function clientErrorHandler(this: FastifyInstance, err: NodeJS.ErrnoException, socket: Socket): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  let reply: string;
  if (err.code === 'HPE_HEADER_OVERFLOW') {
    reply = rawReply(413, 'Payload Too Large', new AppError('PAYLOAD_TOO_LARGE', 'request headers are too large'));
  } else if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') {
    reply = rawReply(400, 'Bad Request', new AppError('VALIDATION_FAILED', 'the request did not arrive in time'));
  } else {
    reply = rawReply(400, 'Bad Request', new AppError('VALIDATION_FAILED', 'malformed HTTP request'));
  }
  this.log.debug({ code: err.code }, 'client error');
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  socket.end(reply);
  // A peer that does not read its answer does not keep the socket.
  setTimeout(() => socket.destroy(), 2_000).unref();
}
