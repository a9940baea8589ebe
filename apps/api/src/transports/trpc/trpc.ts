import { initTRPC, TRPCError } from '@trpc/server';
import type { CreateFastifyContextOptions } from '@trpc/server/adapters/fastify';
import { WebSocket } from 'ws';
import type { Actor } from '../../domain/actor.js';
import { asAppError, isAppError, isDependencyOutage } from '../../domain/errors.js';
import type { Services } from '../../services/index.js';
import { bearerToken } from '../rest/auth.js';
import { contractError, toTrpcError } from './errors.js';

export interface TrpcContext {
  services: Services;
  token: string | undefined;
  ip: string;
  /** The WebSocket, when the call came over one. */
  socket?: WebSocket;
}

/** tRPC WebSockets on which a device authenticated; the others are closed at the auth deadline. */
const authenticatedSockets = new WeakSet<WebSocket>();
export const isAuthenticatedSocket = (s: WebSocket): boolean => authenticatedSockets.has(s);

/** HTTP: `Authorization` header. WebSocket: the same header, or `connectionParams.token` (browsers). */
export function contextFactory(services: Services) {
  return ({ req, res, info }: CreateFastifyContextOptions): TrpcContext => {
    const params = info.connectionParams as { token?: unknown } | null | undefined;
    const fromParams = typeof params?.token === 'string' ? params.token : undefined;
    const ip = 'ip' in req && typeof req.ip === 'string' ? req.ip : (req.socket?.remoteAddress ?? 'unknown');
    const socket = (res as unknown) instanceof WebSocket ? (res as unknown as WebSocket) : undefined;
    return { services, token: bearerToken(req.headers.authorization) ?? fromParams, ip, socket };
  };
}

const t = initTRPC.context<TrpcContext>().create({
  errorFormatter({ shape, error }) {
    return { ...shape, data: { ...shape.data, stack: undefined, ...contractError(error) } };
  },
});

/** Service errors become tRPC errors carrying the contract code; anything else is INTERNAL. */
const mapErrors = t.middleware(async ({ next }) => {
  const result = await next();
  if (!result.ok && isAppError(result.error.cause))
    return { ...result, error: toTrpcError(result.error.cause) } as typeof result;
  if (!result.ok && isDependencyOutage(result.error.cause))
    return { ...result, error: toTrpcError(asAppError(result.error.cause)) } as typeof result;
  return result;
});

export const router = t.router;
export const publicProcedure = t.procedure.use(mapErrors);

/** Resolves the calling device through the same function REST, WS and gRPC use. */
export const deviceProcedure = publicProcedure.use(async ({ ctx, next }) => {
  try {
    const actor: Actor = await ctx.services.accounts.authenticate(ctx.token);
    if (ctx.socket) authenticatedSockets.add(ctx.socket);
    return next({ ctx: { ...ctx, actor } });
  } catch (e) {
    if (isAppError(e) || isDependencyOutage(e)) throw toTrpcError(asAppError(e));
    throw new TRPCError({ code: 'INTERNAL_SERVER_ERROR', message: 'internal error' });
  }
});

/**
 * Console calls: the bearer token must be an admin access token (its own audience and key), checked
 * against its session and the admin's current role on every call. A user token is refused here, and
 * an admin token is refused by deviceProcedure. What each role may do is decided in the service.
 */
export const adminProcedure = publicProcedure.use(async ({ ctx, next }) => {
  try {
    const admin = await ctx.services.adminAuth.authenticate(ctx.token);
    return next({ ctx: { ...ctx, admin } });
  } catch (e) {
    if (isAppError(e) || isDependencyOutage(e)) throw toTrpcError(asAppError(e));
    throw new TRPCError({ code: 'INTERNAL_SERVER_ERROR', message: 'internal error' });
  }
});
