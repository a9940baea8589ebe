import { createHmac, randomUUID } from 'node:crypto';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningServer } from '../../src/server.js';
import { client, createUser, type TestUser } from '../helpers/api.js';
import { OtpWebhook } from '../helpers/otp-webhook.js';
import { CHROMIUM, CHROMIUM_ARGS } from '../helpers/chromium.js';
import { startTestServer } from '../helpers/server.js';
import { CALL_PAGE } from './call-page.js';
import { type Coturn, startCoturn } from './coturn.js';

/**
 * Real WebRTC between two headless Chromium pages (Debian's chromium, never a downloaded browser),
 * signaled through /api/v1/calls/signal, then relayed through a real coturn with credentials from
 * GET /calls/turn. Timeouts are generous: two browsers and a server share a loaded 2-core machine.
 */
const ARGS = [
  ...CHROMIUM_ARGS,
  // The page is fulfilled by the test (page.route) on the API's loopback origin; Chromium then treats
  // it as a non-local document and blocks its WebSocket to loopback (ERR_BLOCKED_BY_LOCAL_NETWORK_ACCESS_CHECKS).
  '--disable-features=LocalNetworkAccessChecks',
];

async function until<T>(what: string, f: () => Promise<T | null | undefined | false>, timeoutMs = 60_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await f();
    if (v) return v as T;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('calls in real browsers (Chromium) with a real coturn', () => {
  let server: RunningServer;
  let otp: OtpWebhook;
  let turn: Coturn;
  let browser: Browser;
  const contexts: BrowserContext[] = [];

  beforeAll(async () => {
    turn = await startCoturn();
    otp = await new OtpWebhook().start();
    server = await startTestServer({
      OTP_WEBHOOK_URL: otp.url,
      TURN_SECRET: turn.secret,
      TURN_URLS: `turn:127.0.0.1:${turn.port}?transport=udp`,
      TURN_TTL_S: '3600',
    });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS, timeout: 120_000 });
  }, 180_000);
  afterAll(async () => {
    for (const c of contexts) await c.close().catch(() => {});
    await browser?.close().catch(() => {});
    await server?.close();
    await otp?.stop();
    await turn?.stop();
  }, 60_000);

  /** A page on the API's origin running the call client, signed in as `user`. */
  async function pageFor(user: TestUser): Promise<Page> {
    const context = await browser.newContext({ permissions: ['camera', 'microphone'] });
    contexts.push(context);
    const page = await context.newPage();
    page.setDefaultTimeout(60_000);
    await page.route(`${server.url}/call.html`, (route) =>
      route.fulfill({ status: 200, contentType: 'text/html', body: CALL_PAGE }),
    );
    await page.goto(`${server.url}/call.html`);
    await page.evaluate((t) => (globalThis as any).connect(t), user.accessToken);
    return page;
  }

  async function twoUsers(): Promise<[TestUser, TestUser]> {
    const api = client(server.url);
    return [await createUser(api, otp), await createUser(api, otp)];
  }

  async function callAndTalk(policy: 'all' | 'relay'): Promise<{ alice: Page; bob: Page; callId: string }> {
    const [aliceUser, bobUser] = await twoUsers();
    const [alice, bob] = await Promise.all([pageFor(aliceUser), pageFor(bobUser)]);
    const servers = async (p: Page, u: TestUser) =>
      policy === 'relay' ? p.evaluate((t) => (globalThis as any).turnServers(t), u.accessToken) : [];
    const callId = randomUUID();
    await alice.evaluate(([to, id, s, pol]) => (globalThis as any).call(to, id, s, pol), [
      bobUser.userId,
      callId,
      await servers(alice, aliceUser),
      policy,
    ] as const);
    await until('the offer at Bob', () => bob.evaluate(() => (globalThis as any).hasOffer()));
    await bob.evaluate(([s, pol]) => (globalThis as any).answer(s, pol), [
      await servers(bob, bobUser),
      policy,
    ] as const);
    for (const p of [alice, bob]) {
      await until(
        'the data channel to open',
        () => p.evaluate(() => (globalThis as any).st.dcState === 'open'),
        90_000,
      );
    }
    await alice.evaluate(() => (globalThis as any).sendText('hello bob'));
    await bob.evaluate(() => (globalThis as any).sendText('hello alice'));
    expect(
      await until('Bob to receive', () =>
        bob.evaluate(() => ((globalThis as any).st.received as string[]).includes('hello bob')),
      ),
    ).toBe(true);
    expect(
      await until('Alice to receive', () =>
        alice.evaluate(() => ((globalThis as any).st.received as string[]).includes('hello alice')),
      ),
    ).toBe(true);
    const record = await client(server.url).get(`/calls/${callId}`, { token: aliceUser.accessToken });
    expect(record.body).toMatchObject({ state: 'connected', callerId: aliceUser.userId, calleeId: bobUser.userId });
    return { alice, bob, callId };
  }

  it('Alice calls Bob through /calls/signal: the peer connection comes up and a data channel carries text both ways', async () => {
    const { alice, bob, callId } = await callAndTalk('all');
    const types = await until('a selected candidate pair', () => alice.evaluate(() => (globalThis as any).pairTypes()));
    expect(['host', 'srflx', 'prflx']).toContain(types.local);
    await alice.evaluate(() => (globalThis as any).hangup());
    await until('Bob to get the hangup', () =>
      bob.evaluate(
        (id) => ((globalThis as any).st.frames as any[]).some((f) => f.callId === id && f.type === 'hangup'),
        callId,
      ),
    );
  }, 180_000);

  it("with iceTransportPolicy 'relay' the call goes through coturn using GET /calls/turn credentials", async () => {
    const { alice, bob } = await callAndTalk('relay');
    for (const p of [alice, bob]) {
      const types = await until('a selected candidate pair', () => p.evaluate(() => (globalThis as any).pairTypes()));
      expect(types).toEqual({ local: 'relay', remote: 'relay' });
    }
    // coturn writes its session log lines asynchronously.
    const log = await until(
      'coturn to log the allocation',
      async () => {
        const text = await turn.log();
        return /ALLOCATE/.test(text) && text;
      },
      30_000,
    );
    expect(log).toMatch(/CREATE_PERMISSION|CHANNEL_BIND/);
  }, 180_000);

  it('an expired TURN credential gets no relay allocation', async () => {
    const [user] = await twoUsers();
    const page = await pageFor(user);
    const good = (await page.evaluate((t) => (globalThis as any).turnServers(t), user.accessToken)) as Array<{
      urls: string[];
    }>;
    // The same scheme and secret, but an expiry in the past.
    const username = `${Math.floor(Date.now() / 1000) - 60}:${user.userId}`;
    const credential = createHmac('sha1', turn.secret).update(username).digest('base64');
    const result = (await page.evaluate(
      (s) => (globalThis as any).gatherOnly(s),
      [{ urls: good[0]?.urls ?? [], username, credential }],
    )) as { candidates: string[]; errors: Array<{ code: number }> };
    expect(result.candidates.filter((c) => / typ relay /.test(c))).toEqual([]);
    expect(result.errors.map((e) => e.code)).toContain(401);
  }, 120_000);
});
