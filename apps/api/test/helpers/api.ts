import { randomBytes, randomInt } from 'node:crypto';
import type { OtpWebhook } from './otp-webhook.js';

export interface ApiResponse<T = any> {
  status: number;
  body: T;
  headers: Headers;
}

export interface CallOptions {
  token?: string;
  ip?: string;
  headers?: Record<string, string>;
}

/** Minimal REST client for tests: JSON in, JSON out, status and headers kept. */
export function client(baseUrl: string) {
  async function call<T = any>(
    method: string,
    path: string,
    body?: unknown,
    opts: CallOptions = {},
  ): Promise<ApiResponse<T>> {
    const headers: Record<string, string> = { ...opts.headers };
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (opts.token) headers.authorization = `Bearer ${opts.token}`;
    if (opts.ip) headers['x-forwarded-for'] = opts.ip;
    const res = await fetch(`${baseUrl}/api/v1${path}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : undefined, headers: res.headers };
  }
  return {
    get: <T = any>(path: string, opts?: CallOptions) => call<T>('GET', path, undefined, opts),
    post: <T = any>(path: string, body?: unknown, opts?: CallOptions) => call<T>('POST', path, body, opts),
    put: <T = any>(path: string, body?: unknown, opts?: CallOptions) => call<T>('PUT', path, body, opts),
    del: <T = any>(path: string, opts?: CallOptions) => call<T>('DELETE', path, undefined, opts),
  };
}

export type Client = ReturnType<typeof client>;

// Ten random digits: a test run creates thousands of accounts in one database, and with seven
// two of them drew the same number now and then (409 "phone is already registered").
export const randomPhone = () => `+1555${randomInt(1_000_000_000, 9_999_999_999)}`;
export const randomUsername = () => `u_${randomBytes(6).toString('hex')}`;
export const randomIp = () => `10.${randomInt(0, 255)}.${randomInt(0, 255)}.${randomInt(1, 254)}`;

export interface TestUser {
  userId: string;
  username: string;
  phone: string;
  password: string;
  deviceId: number;
  accessToken: string;
  refreshToken: string;
}

/** register → OTP through the webhook → verify: a verified account on device 1. */
export async function createUser(
  api: Client,
  otp: OtpWebhook,
  opts: { ip?: string; username?: string } = {},
): Promise<TestUser> {
  const username = opts.username ?? randomUsername();
  const phone = randomPhone();
  const password = 'correct horse battery';
  const ip = opts.ip ?? randomIp();
  const reg = await api.post('/auth/register', { username, phone, password }, { ip });
  if (reg.status !== 201) throw new Error(`register: ${reg.status} ${JSON.stringify(reg.body)}`);
  const code = await otp.codeFor(phone);
  const v = await api.post('/auth/verify', { phone, code }, { ip });
  if (v.status !== 200) throw new Error(`verify: ${v.status} ${JSON.stringify(v.body)}`);
  return { username, phone, password, ...v.body };
}

/** Links one more device to the user by logging in. */
export async function linkDevice(api: Client, user: TestUser, deviceName?: string): Promise<TestUser> {
  const r = await api.post(
    '/auth/login',
    { login: user.username, password: user.password, deviceName },
    { ip: randomIp() },
  );
  if (r.status !== 200) throw new Error(`login: ${r.status} ${JSON.stringify(r.body)}`);
  return { ...user, ...r.body };
}
