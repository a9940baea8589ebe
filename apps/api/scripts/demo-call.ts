// A call between two browser tabs on this machine: `npx -y pnpm@10.34.9 demo:call` registers two
// users (alice and bob) on a running server (SNAPTALKER_URL, default http://127.0.0.1:3000) or, when
// none answers, on an embedded one started here; then serves one page per user and prints their
// URLs. Open both, press Call in one and Answer in the other: WebRTC (microphone if granted, and a
// data channel for text) over the signaling socket /api/v1/calls/signal. Ctrl-C stops it.
// Against a running server the script must read the OTP codes it sends: start the server with
// OTP_WEBHOOK_URL=http://127.0.0.1:<port>/otp and this script with DEMO_OTP_PORT=<port>.
import { randomInt } from 'node:crypto';
import { createServer } from 'node:http';
import { type DemoCallSide, demoCallPage } from './demo-call-page.js';
import { demoServer, portFromEnv } from './demo-server.js';

const server = await demoServer('this script');
const { url, otp } = server;

async function post(path: string, body: unknown): Promise<Record<string, unknown>> {
  const r = await fetch(`${url}/api/v1${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const json = (await r.json()) as Record<string, unknown>;
  if (!r.ok) throw new Error(`${path}: ${r.status} ${JSON.stringify(json)}`);
  return json;
}

async function user(name: string) {
  const username = `${name}_${randomInt(100_000, 999_999)}`;
  const phone = `+1555${randomInt(1_000_000, 9_999_999)}`;
  await post('/auth/register', { username, phone, password: `${name} call demo password` });
  const s = await post('/auth/verify', { phone, code: await otp.codeFor(phone), deviceName: 'call demo tab' });
  return { username, userId: s.userId as string, token: s.accessToken as string };
}

const shutdown = async (code: number) => {
  await server.close();
  process.exit(code);
};

try {
  const alice = await user('alice');
  const bob = await user('bob');
  const sides: Record<string, DemoCallSide> = {
    alice: { name: alice.username, token: alice.token, peerId: bob.userId, peerName: bob.username, apiUrl: url },
    bob: { name: bob.username, token: bob.token, peerId: alice.userId, peerName: alice.username, apiUrl: url },
  };
  const pages = createServer((req, res) => {
    const side = sides[new URL(req.url ?? '/', 'http://x').pathname.slice(1)];
    if (!side) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('open /alice or /bob');
      return;
    }
    res
      .writeHead(200, {
        'content-type': 'text/html; charset=utf-8',
        'cache-control': 'no-store',
        'content-security-policy': `default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src ${url.replace(/^http/, 'ws')} ${url}; media-src blob: mediastream:`,
      })
      .end(demoCallPage(side));
  });
  const pagePort = portFromEnv('DEMO_CALL_PORT', 4100);
  await new Promise<void>((resolve, reject) => {
    pages.once('error', reject);
    pages.listen(pagePort, '127.0.0.1', resolve);
  });
  const addr = pages.address();
  const base = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : pagePort}`;
  console.log(`alice (${alice.username}): ${base}/alice`);
  console.log(`bob   (${bob.username}): ${base}/bob`);
  console.log('open both in a browser, press Call in one tab and Answer in the other; Ctrl-C to stop');
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => void shutdown(0));
} catch (e) {
  console.error(`call demo failed: ${e instanceof Error ? e.message : String(e)}`);
  await shutdown(1);
}
