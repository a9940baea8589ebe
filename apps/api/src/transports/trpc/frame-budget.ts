import type { FastifyInstance } from 'fastify';
import type { IncomingMessage } from 'node:http';
import type { RawData, WebSocket } from 'ws';
import { AppError } from '../../domain/errors.js';
import type { ConnectionBudget } from '../../services/rate-limits.js';
import { sendError } from '../rest/errors.js';
import { frameBytes, frameWeight } from '../ws/frame-weight.js';

/** tRPC's JSON-RPC code for TOO_MANY_REQUESTS (TRPC_ERROR_CODES_BY_KEY). */
const TOO_MANY_REQUESTS = -32029;
/** Frames larger than this are not read for their calls (the socket closes frames over 512 KiB). */
const MAX_PARSED_BYTES = 64 * 1024;

/**
 * The frame budget of the message and calls sockets, for tRPC's WebSocket too: every frame is
 * admitted before tRPC parses it. Without it one client could send tRPC frames as fast as it liked —
 * each up to 100 calls (the batch bound) — and buy the node's CPU and database for them.
 *
 * - A frame weighs one point per call it carries (at least one per started 4 KiB). Its calls stay
 *   in flight until tRPC answers each of them (a subscription: until it has started), so an address
 *   has at most WS_MAX_INFLIGHT_POINTS calls running at once, and RATE_LIMIT_WS_FRAMES per window.
 * - The budget belongs to the client address, not to the socket: a tRPC socket may authenticate
 *   after it opens (connectionParams), so there is no device to key an opening limit on, and a
 *   budget per socket would start afresh on every reconnect. All tRPC sockets of one address on this
 *   node share it (so do a NAT's users).
 * - A refused frame is answered with a tRPC TOO_MANY_REQUESTS error for each of its calls, so the
 *   client's promises settle. An address that keeps sending after refusals has its sockets closed
 *   with 1008 and new ones refused at the upgrade (429) until its refusal window has passed.
 *
 * tRPC's adapter registers its own 'message' listener; the budget sits in front of every listener
 * by filtering the socket's 'message' events, and sees the answers by wrapping its `send`.
 */
export function trpcFrameBudget(app: FastifyInstance, prefix: string, newBudget: () => ConnectionBudget): void {
  const budgets = new Map<string, ConnectionBudget>();
  const addressOf = new WeakMap<IncomingMessage, string>();
  const budgetOf = (ip: string): ConnectionBudget => {
    let b = budgets.get(ip);
    if (!b) {
      // Bounded like the node's other per-key caches: a flood of addresses cannot grow it forever.
      if (budgets.size >= 100_000) budgets.clear();
      b = newBudget();
      budgets.set(ip, b);
    }
    return b;
  };

  app.addHook('onRequest', async (req, reply) => {
    if (!req.url.startsWith(prefix) || req.headers.upgrade?.toLowerCase() !== 'websocket') return;
    // The address as Fastify sees it (TRUST_PROXY honoured), for the socket this upgrade becomes.
    addressOf.set(req.raw, req.ip);
    if (budgets.get(req.ip)?.exhausted) {
      return sendError(reply, new AppError('RATE_LIMITED', 'too many frames from this address', { retryAfter: 1 }, 1));
    }
  });

  app.websocketServer.on('connection', (socket: WebSocket, req: IncomingMessage) => {
    if (!req.url?.startsWith(prefix)) return;
    const budget = budgetOf(addressOf.get(req) ?? req.socket.remoteAddress ?? 'unknown');
    // Calls of this socket admitted and not yet answered (by id).
    const running = new Set<string | number>();
    const emit = socket.emit.bind(socket);
    const send = socket.send.bind(socket);
    socket.emit = ((event: string | symbol, ...args: unknown[]): boolean => {
      if (event === 'close') {
        budget.done(running.size);
        running.clear();
      }
      if (event !== 'message') return emit(event, ...args);
      const data = args[0] as RawData;
      const calls = args[1] === true ? [] : callsOf(data);
      const points = Math.max(frameWeight(data), calls.length);
      if (budget.admit(points) === 'ok') {
        // What stays in flight is the calls tRPC will answer; the rest of the weight is spent now.
        let kept = 0;
        for (const id of calls) {
          if (running.has(id)) continue;
          running.add(id);
          kept++;
        }
        budget.done(points - kept);
        return emit(event, ...args);
      }
      if (socket.readyState === socket.OPEN) {
        for (const id of calls.slice(0, 100)) send(tooManyRequests(id));
        if (budget.exhausted) socket.close(1008, 'too many frames');
      }
      return false;
    }) as typeof socket.emit;
    socket.send = ((data: unknown, ...rest: unknown[]) => {
      if (running.size > 0 && typeof data === 'string') {
        const id = answeredId(data);
        if (id !== undefined && running.delete(id)) budget.done(1);
      }
      return (send as (...a: unknown[]) => void)(data, ...rest);
    }) as typeof socket.send;
  });
}

/** The id a tRPC answer starts with (`{"id":…`), without parsing the rest of it. */
function answeredId(data: string): string | number | undefined {
  const m = /^\{"id":(-?\d+|"(?:[^"\\]{0,64})")/.exec(data);
  if (!m?.[1]) return undefined;
  return m[1].startsWith('"') ? m[1].slice(1, -1) : Number(m[1]);
}

const tooManyRequests = (id: string | number) =>
  JSON.stringify({
    id,
    error: {
      message: 'too many frames from this address; slow down',
      code: TOO_MANY_REQUESTS,
      data: { code: 'TOO_MANY_REQUESTS', httpStatus: 429 },
    },
  });

/** The frame as text, without copying a Buffer that `ws` already delivered whole. */
const text = (data: RawData): string =>
  Array.isArray(data)
    ? Buffer.concat(data).toString('utf8')
    : Buffer.isBuffer(data)
      ? data.toString('utf8')
      : Buffer.from(data).toString('utf8');

/**
 * The ids of a frame's calls (a single message or a batch). Frames too large to be worth reading
 * yield none and weigh by their size alone (tRPC refuses them anyway: a batch holds at most 100 calls).
 */
function callsOf(data: RawData): Array<string | number> {
  if (frameBytes(data) > MAX_PARSED_BYTES) return [];
  let json: unknown;
  try {
    json = JSON.parse(text(data));
  } catch {
    return [];
  }
  const ids: Array<string | number> = [];
  for (const m of Array.isArray(json) ? json : [json]) {
    const call = m as { id?: unknown; method?: unknown } | null;
    const id = call?.id;
    // Only calls tRPC answers by id: queries, mutations, subscriptions (answered when started).
    if (call?.method !== 'query' && call?.method !== 'mutation' && call?.method !== 'subscription') continue;
    if (typeof id === 'number' || (typeof id === 'string' && id.length <= 64)) ids.push(id);
  }
  return ids;
}
