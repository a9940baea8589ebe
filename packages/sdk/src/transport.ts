import { createTRPCClient, createWSClient, httpBatchLink, splitLink, type TRPCClient, wsLink } from '@trpc/client';
import type { AppRouter } from '@snaptalker/api/trpc';

export type { AppRouter };

export interface TransportOptions {
  /** Server base URL, e.g. http://localhost:3000 */
  url: string;
  /** Current access token (null while signed out); read on every call and on each (re)connect. */
  getAccessToken: () => string | null | Promise<string | null>;
  /** WebSocket implementation: browsers have one; on Node 20 pass `ws`'s WebSocket. */
  WebSocket?: typeof globalThis.WebSocket;
  /** Reconnect delay (ms) for the attempt number; default exponential backoff capped at 10 s. */
  retryDelayMs?: (attempt: number) => number;
}

export interface Transport {
  trpc: TRPCClient<AppRouter>;
  /** Closes the WebSocket; resolves once it is closed. */
  close(): Promise<void>;
}

export const backoff = (attempt: number) => Math.min(10_000, 250 * 2 ** attempt) * (0.5 + Math.random() / 2);

/**
 * The typed transport, safe for browsers: queries and mutations over batched HTTP, subscriptions
 * over one WebSocket authenticated through connectionParams (browsers cannot set headers there).
 */
export function createTransport(opts: TransportOptions): Transport {
  const base = opts.url.replace(/\/$/, '');
  const ws = createWSClient({
    url: `${base.replace(/^http/, 'ws')}/trpc`,
    WebSocket: opts.WebSocket,
    lazy: { enabled: true, closeMs: 30_000 },
    retryDelayMs: opts.retryDelayMs ?? backoff,
    connectionParams: async () => ({ token: (await opts.getAccessToken()) ?? '' }),
  });
  const trpc = createTRPCClient<AppRouter>({
    links: [
      splitLink({
        condition: (op) => op.type === 'subscription',
        true: wsLink({ client: ws }),
        false: httpBatchLink({
          url: `${base}/trpc`,
          // The server refuses batches of more than 100 calls (TRPC_MAX_BATCH in apps/api).
          maxItems: 100,
          // Batched queries travel in the URL: split them before the server's path limit refuses one.
          maxURLLength: 2_000,
          headers: async () => {
            const token = await opts.getAccessToken();
            return token ? { authorization: `Bearer ${token}` } : {};
          },
        }),
      }),
    ],
  });
  return { trpc, close: () => ws.close() };
}

/** The contract's error code of a failed call (`data.code` of a tRPC error), if any. */
export function errorCode(e: unknown): string | undefined {
  const data = (e as { data?: { code?: unknown } } | null)?.data;
  return typeof data?.code === 'string' ? data.code : undefined;
}

export function errorDetails(e: unknown): Record<string, unknown> {
  const data = (e as { data?: { details?: unknown } } | null)?.data;
  return (data?.details as Record<string, unknown>) ?? {};
}
