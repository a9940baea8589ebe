import { z } from 'zod';
import { ErrorBody } from '../../domain/errors.js';

/**
 * Response schemas of the REST routes. They are used twice: fastify-type-provider-zod's serializer checks every
 * reply against them at runtime (a mismatch is a 500), and @fastify/swagger turns them into the OpenAPI document
 * served at `/api/v1/openapi.json`. So they must be exactly what the services return.
 */

export type ErrorStatus = 400 | 401 | 403 | 404 | 409 | 410 | 413 | 415 | 416 | 429 | 500 | 503;

/** A 204 reply: no body. */
export const NoContent = z.undefined().meta({ description: 'No content' });

/** Any route with a request body (POST/PUT/DELETE): malformed or invalid JSON, too large, not JSON. */
export const BODY_ERRORS = [400, 413, 415] as const;
/** Any route in the authenticated scope: missing/bad/ended token, banned account. */
export const AUTH_ERRORS = [401, 403] as const;

/** `Authorization: Bearer <accessToken>` (the `bearer` security scheme of the document). */
export const BEARER = [{ bearer: [] }];

/**
 * The success schema(s) plus the shared {@link ErrorBody} for each error status the route can produce
 * (500 always, and 503 always: every request gets it while the server shuts down). The error handler
 * sends every error through these, so ErrorBody must match `errorBody()`.
 */
export function withErrors<S extends Record<number, z.ZodType>, E extends ErrorStatus>(
  success: S,
  errors: readonly E[],
): S & Record<E | 500 | 503, typeof ErrorBody> {
  const out: Record<number, z.ZodType> = { ...success };
  for (const status of [...errors, 500, 503]) out[status] = ErrorBody;
  return out as S & Record<E | 500 | 503, typeof ErrorBody>;
}
