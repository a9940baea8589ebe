// The flooding client of socket-flood.test.ts, in its own thread so that its CPU is not the
// server's event loop: it measures what the server does, not what the test's own sending costs.
import { randomUUID } from 'node:crypto';
import { parentPort, workerData } from 'node:worker_threads';
import WebSocket from 'ws';

const { url, token, idsPerFrame, perTick, durationMs, socket = 'messages' } = workerData;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const stats = { framesSent: 0, errorFrames: 0, internalErrors: 0, closes: [], refusedUpgrades: 0 };
// The message stream gets ack frames; the tRPC socket gets batches of `idsPerFrame` queries.
let callId = 0;
const frame = () =>
  socket === 'trpc'
    ? JSON.stringify(
        Array.from({ length: idsPerFrame }, () => ({ id: ++callId, method: 'query', params: { path: 'keys.count' } })),
      )
    : JSON.stringify({ type: 'ack', ids: Array.from({ length: idsPerFrame }, () => randomUUID()) });
const path = socket === 'trpc' ? '/trpc' : '/api/v1/messages/stream';
const end = Date.now() + durationMs;

// Reconnects whenever the server closes the socket, as an attacker would. Bounded: at most
// `perTick` frames every 10 ms, for `durationMs`.
while (Date.now() < end) {
  const ws = new WebSocket(`${url.replace(/^http/, 'ws')}${path}`, {
    headers: { authorization: `Bearer ${token}` },
  });
  ws.on('message', (d) => {
    const text = d.toString();
    if (text === 'PING') return ws.send('PONG');
    const f = JSON.parse(text);
    if (socket === 'trpc') {
      if (f.error?.data?.code === 'TOO_MANY_REQUESTS') stats.errorFrames++;
      if (f.error?.data?.code === 'INTERNAL_SERVER_ERROR') stats.internalErrors++;
      if (f.result) stats.served = (stats.served ?? 0) + 1;
      return;
    }
    if (f.type === 'error') stats.errorFrames++;
    if (f.type === 'error' && f.code === 'INTERNAL') stats.internalErrors++;
  });
  const closed = new Promise((r) => {
    ws.on('close', (code) => {
      stats.closes.push(code);
      r();
    });
    ws.on('error', () => {});
  });
  const opened = await new Promise((r) => {
    ws.once('open', () => r(true));
    ws.once('unexpected-response', () => r(false));
    ws.once('error', () => r(false));
  });
  if (!opened) {
    stats.refusedUpgrades++;
    await sleep(20);
    continue;
  }
  while (Date.now() < end && ws.readyState === ws.OPEN) {
    for (let i = 0; i < perTick && ws.readyState === ws.OPEN; i++) {
      ws.send(frame());
      stats.framesSent++;
    }
    await sleep(10);
  }
  if (ws.readyState === ws.OPEN) ws.close();
  await closed;
}
parentPort.postMessage(stats);
