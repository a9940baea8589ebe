import type { FastifyRequest } from 'fastify';
import type { Actor } from '../../domain/actor.js';
import type { Services } from '../../services/index.js';

declare module 'fastify' {
  interface FastifyRequest {
    actor: Actor;
  }
}

export function bearerToken(header: string | undefined): string | undefined {
  const m = /^Bearer\s+(\S+)$/i.exec(header ?? '');
  return m?.[1];
}

/** onRequest hook for the authenticated scope: resolves the caller or fails with 401/403. */
export function requireActor(services: Services) {
  return async (req: FastifyRequest) => {
    req.actor = await services.accounts.authenticate(bearerToken(req.headers.authorization));
  };
}
