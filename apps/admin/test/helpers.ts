import { randomBytes, randomInt, randomUUID } from 'node:crypto';
import { mkdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AppRouter } from '@snaptalker/api/trpc';
import { SignalDevice } from '@snaptalker/sdk/protocol';
import { expect, type Page } from '@playwright/test';
import { createTRPCClient, httpBatchLink } from '@trpc/client';
import WebSocket from 'ws';

const here = dirname(fileURLToPath(import.meta.url));
export const screenshotDir = join(here, '../test-results/screenshots');
mkdirSync(screenshotDir, { recursive: true });

function need(name: string): string {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set (test/global-setup.ts sets it)`);
  return v;
}

export const apiUrl = () => need('ADMIN_TEST_API_URL');
export const ownerEmail = 'admin@snaptalker.local';
/** The first owner's password, from the file the API wrote on first start. */
export const ownerPassword = () => readFileSync(need('ADMIN_TEST_PASSWORD_FILE'), 'utf8').trim();

export async function rest<T = any>(method: string, path: string, body?: unknown, token?: string) {
  const headers: Record<string, string> = {};
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (token) headers.authorization = `Bearer ${token}`;
  const res = await fetch(`${apiUrl()}/api/v1${path}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: (text ? JSON.parse(text) : undefined) as T };
}

async function otpFor(phone: string): Promise<string> {
  const end = Date.now() + 10_000;
  for (;;) {
    const lines = readFileSync(need('ADMIN_TEST_OTP_FILE'), 'utf8').split('\n').filter(Boolean);
    const hit = lines.map((l) => JSON.parse(l) as { phone: string; code: string }).findLast((r) => r.phone === phone);
    if (hit) return hit.code;
    if (Date.now() > end) throw new Error(`no OTP for ${phone}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export interface TestUser {
  userId: string;
  username: string;
  phone: string;
  password: string;
  deviceId: number;
  accessToken: string;
  refreshToken: string;
}

/** register → OTP (through the webhook) → verify: a verified account on device 1. */
export async function createUser(prefix = 'u'): Promise<TestUser> {
  const username = `${prefix}_${randomBytes(5).toString('hex')}`;
  const phone = `+1555${randomInt(1_000_000_000, 9_999_999_999)}`;
  const password = 'correct horse battery';
  const reg = await rest('POST', '/auth/register', { username, phone, password });
  expect(reg.status, JSON.stringify(reg.body)).toBe(201);
  const v = await rest('POST', '/auth/verify', { phone, code: await otpFor(phone) });
  expect(v.status, JSON.stringify(v.body)).toBe(200);
  return { username, phone, password, ...v.body };
}

/** Links one more device by logging in (optionally naming it). */
export async function linkDevice(user: TestUser, deviceName?: string): Promise<TestUser> {
  const r = await rest('POST', '/auth/login', { login: user.username, password: user.password, deviceName });
  expect(r.status, JSON.stringify(r.body)).toBe(200);
  return { ...user, ...r.body };
}

/** Uploads real libsignal keys for the session's device, so it can be sent to. Returns its registrationId. */
export async function uploadKeys(user: TestUser): Promise<number> {
  const d = await SignalDevice.create({ userId: user.userId, deviceId: user.deviceId });
  const r = await rest('POST', '/keys/upload', await d.generateKeys({ preKeys: 5, kyberPreKeys: 2 }), user.accessToken);
  expect(r.status, JSON.stringify(r.body)).toBe(200);
  return d.registrationId;
}

/** Sends `n` envelopes from `from` to the recipient's device 1 (content need not be a real ciphertext). */
export async function sendBurst(from: TestUser, to: TestUser, registrationId: number, n: number) {
  const sends = Array.from({ length: n }, () =>
    rest(
      'POST',
      '/messages/send',
      {
        recipientId: to.userId,
        clientMessageId: randomUUID(),
        messages: [{ deviceId: 1, registrationId, type: 'message', content: 'aGVsbG8=' }],
      },
      from.accessToken,
    ),
  );
  const results = await Promise.all(sends);
  for (const r of results) expect(r.status, JSON.stringify(r.body)).toBe(200);
}

/** The user's message WebSocket; resolves its close code when the server closes it. */
export async function openStream(user: TestUser) {
  const ws = new WebSocket(`${apiUrl().replace(/^http/, 'ws')}/api/v1/messages/stream`, {
    headers: { authorization: `Bearer ${user.accessToken}` },
  });
  const closed = new Promise<number>((r) => ws.on('close', (code) => r(code)));
  await new Promise<void>((res, rej) => {
    ws.once('open', () => res());
    ws.once('error', rej);
  });
  return { ws, closed };
}

/** A tRPC client on the API, as any program holding an admin token could use it. */
export function trpc(token?: string) {
  return createTRPCClient<AppRouter>({
    links: [
      httpBatchLink({
        url: `${apiUrl()}/trpc`,
        headers: () => (token ? { authorization: `Bearer ${token}` } : {}),
      }),
    ],
  });
}

export async function login(page: Page, email: string, password: string) {
  await page.goto('/login');
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByTestId('whoami')).toContainText(email);
}

export async function shot(page: Page, name: string) {
  await page.screenshot({ path: join(screenshotDir, `${name}.png`), fullPage: true });
}
