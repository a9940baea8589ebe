import { randomUUID } from 'node:crypto';
import type { ValidateFunction } from 'ajv';
import { Ajv2020 } from 'ajv/dist/2020.js';
import formats from 'ajv-formats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningServer } from '../../src/server.js';
import {
  type ApiResponse,
  type Client,
  client,
  createUser,
  linkDevice,
  randomPhone,
  type TestUser,
} from '../helpers/api.js';
import { OtpWebhook } from '../helpers/otp-webhook.js';
import { startTestServer } from '../helpers/server.js';
import { type BundleJson, SignalDevice } from '../helpers/signal-client.js';
import { TestSocket } from '../helpers/ws-client.js';

// The OpenAPI document must be true to what runs: every REST route is in it, and every live reply, success or
// error, validates against the schema the document gives for that operation and status.

type Json = Record<string, any>;
// ajv-formats is CommonJS: under NodeNext its default import is the module object.
const addFormats = formats.default;
type Method = 'get' | 'post' | 'put' | 'delete';

/** Every route fastify has, as `METHOD /path` with `:params`, parsed from printRoutes' tree. */
function registeredRoutes(tree: string): string[] {
  const out: string[] = [];
  const stack: string[] = [];
  for (const line of tree.split('\n')) {
    const m = /^((?:│ {3}| {4})*)(?:├── |└── )(.*?)(?: \(([^)]*)\))?$/.exec(line);
    if (!m) continue;
    const depth = (m[1] as string).length / 4;
    stack.length = depth;
    stack.push(m[2] as string);
    const methods = m[3];
    if (!methods || methods === '-') continue;
    const path = stack.join('');
    for (const method of methods.split(', ')) out.push(`${method} ${path}`);
  }
  return out;
}

describe('OpenAPI document at /api/v1/openapi.json', () => {
  let server: RunningServer;
  let otp: OtpWebhook;
  let api: Client;
  let doc: Json;
  let ajv: Ajv2020;
  const validators = new Map<string, ValidateFunction>();
  /** `METHOD /openapi/path STATUS` of every live reply validated. */
  const seen = new Set<string>();

  beforeAll(async () => {
    otp = await new OtpWebhook().start();
    server = await startTestServer({
      OTP_WEBHOOK_URL: otp.url,
      TURN_SECRET: 'openapi-turn-secret',
      TURN_URLS: 'turn:127.0.0.1:3478',
    });
    api = client(server.url);
    const res = await fetch(`${server.url}/api/v1/openapi.json`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    doc = (await res.json()) as Json;

    // Strict Ajv (JSON Schema 2020-12, the dialect of OpenAPI 3.1): an unknown keyword fails the compile.
    ajv = new Ajv2020({ strict: true, allErrors: true });
    addFormats(ajv);
    const rewrite = (v: unknown): unknown =>
      JSON.parse(JSON.stringify(v), (k, x) =>
        k === '$ref' && typeof x === 'string' ? x.replace('#/components/schemas/', 'components#/$defs/') : x,
      );
    ajv.addSchema({ $id: 'components', $defs: rewrite(doc.components?.schemas ?? {}) as Json });
    for (const [path, item] of Object.entries(doc.paths as Json)) {
      for (const [method, op] of Object.entries(item as Json)) {
        for (const [status, r] of Object.entries((op as Json).responses as Json)) {
          const schema = (r as Json).content?.['application/json']?.schema;
          if (schema) validators.set(`${method} ${path} ${status}`, ajv.compile(rewrite(schema) as Json));
        }
      }
    }
  });
  afterAll(async () => {
    await server?.close();
    await otp?.stop();
  });

  /** Validates a live reply against the document: the operation and status must be documented. */
  function conforms<T extends ApiResponse>(method: Method, path: string, res: T): T {
    const op = doc.paths[path]?.[method];
    expect(op, `${method.toUpperCase()} ${path} is not documented`).toBeDefined();
    const documented = op.responses[String(res.status)];
    expect(
      documented,
      `${method.toUpperCase()} ${path} answered ${res.status}: ${JSON.stringify(res.body)}`,
    ).toBeDefined();
    if (res.status >= 400) {
      // Only the codes this route can produce are documented for it: every live error must be one of them.
      const code = (res.body as { error?: { code?: string } } | undefined)?.error?.code;
      expect(documented['x-error-codes'], `${method.toUpperCase()} ${path} ${res.status}`).toContain(code);
    }
    if (res.status === 204) {
      expect(documented.content).toBeUndefined();
      expect(res.body).toBeUndefined();
    } else {
      const validate = validators.get(`${method} ${path} ${res.status}`);
      expect(validate, `no JSON schema for ${method} ${path} ${res.status}`).toBeDefined();
      const ok = validate?.(res.body);
      expect(ok, `${method.toUpperCase()} ${path} ${res.status}: ${ajv.errorsText(validate?.errors)}`).toBe(true);
    }
    seen.add(`${method} ${path} ${res.status}`);
    return res;
  }

  /** A raw request (for content types and bodies the JSON test client does not send). */
  async function raw(method: string, path: string, init: RequestInit = {}): Promise<ApiResponse> {
    const res = await fetch(`${server.url}${path}`, { method, ...init });
    const text = await res.text();
    let body: unknown;
    try {
      body = text ? JSON.parse(text) : undefined;
    } catch {
      body = text;
    }
    return { status: res.status, body, headers: res.headers };
  }

  it('is OpenAPI 3.1 with the bearer scheme, the ErrorBody and Envelope components', () => {
    expect(doc.openapi).toMatch(/^3\.1/);
    expect(doc.info).toMatchObject({ title: 'SnapTalker API', version: '1' });
    expect(doc.components.securitySchemes.bearer).toEqual({ type: 'http', scheme: 'bearer', bearerFormat: 'JWT' });
    expect(Object.keys(doc.components.schemas).sort()).toEqual(['Call', 'Envelope', 'ErrorBody']);
    expect(doc.components.schemas.ErrorBody.properties.error.properties.code.enum).toContain('VALIDATION_FAILED');
    // The validators are live: a reply that is not what the document says fails.
    expect(validators.size).toBeGreaterThan(60);
    expect(validators.get('get /api/v1/me 200')?.({ userId: randomUUID() })).toBe(false);
    expect(validators.get('get /api/v1/me 401')?.({ error: { code: 'NOPE', message: '', details: {} } })).toBe(false);
  });

  it('documents every REST route that runs, and nothing that does not', () => {
    // printRoutes merges sibling parameters into one node (`:id|:chatId`), so paths are compared with anonymous
    // parameters here, and each documented operation is then looked up with its own parameter names.
    const anonymous = (p: string) => p.replace(/\{[^/]*\}|:[^/]+/g, '{}');
    const routes = registeredRoutes(server.http.printRoutes({ commonPrefix: false }))
      .filter((r) => !r.startsWith('HEAD '))
      .filter((r) => / \/api\/v1\//.test(r) || / \/(health|ready|metrics)$/.test(r))
      .filter((r) => r !== 'GET /api/v1/openapi.json')
      .map(anonymous)
      .sort();
    const documented = Object.entries(doc.paths as Json)
      .flatMap(([path, item]) => Object.keys(item as Json).map((m) => `${m.toUpperCase()} ${path}`))
      .sort();
    expect(routes).toEqual(documented.map(anonymous).sort());
    for (const op of documented) {
      const [method, path] = op.split(' ') as [string, string];
      const names = [...path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1] as string);
      const found = server.http.findRoute({ method: method as 'GET', url: path.replace(/\{([^}]+)\}/g, '__$1__') });
      expect(found, op).not.toBeNull();
      expect(found?.params, op).toEqual(Object.fromEntries(names.map((n) => [n, `__${n}__`])));
    }
    // The list the contract names (docs/api.md), so a parsing slip above cannot pass by finding nothing.
    expect(documented).toEqual(
      [
        'POST /api/v1/auth/register',
        'POST /api/v1/auth/verify',
        'POST /api/v1/auth/login',
        'POST /api/v1/auth/refresh',
        'POST /api/v1/auth/logout',
        'GET /api/v1/me',
        'DELETE /api/v1/devices/{deviceId}',
        'POST /api/v1/keys/upload',
        'GET /api/v1/keys/bundle/{userId}',
        'POST /api/v1/keys/signed-prekey',
        'DELETE /api/v1/keys/prekey/{id}',
        'GET /api/v1/keys/count',
        'POST /api/v1/messages/send',
        'GET /api/v1/messages/queue',
        'POST /api/v1/messages/ack',
        'PUT /api/v1/messages/{id}/status',
        'GET /api/v1/messages/{chatId}',
        'GET /api/v1/messages/stream',
        'POST /api/v1/attachments',
        'POST /api/v1/attachments/{id}/complete',
        'GET /api/v1/attachments/{id}',
        'DELETE /api/v1/attachments/{id}',
        'PUT /api/v1/attachments/{id}/blob',
        'GET /api/v1/attachments/{id}/blob',
        'POST /api/v1/calls/offer',
        'POST /api/v1/calls/answer',
        'POST /api/v1/calls/ice',
        'POST /api/v1/calls/hangup',
        'GET /api/v1/calls/{callId}',
        'GET /api/v1/calls',
        'GET /api/v1/calls/turn',
        'GET /api/v1/calls/signal',
        'GET /health',
        'GET /ready',
        'GET /metrics',
      ].sort(),
    );
    for (const path of Object.keys(doc.paths)) expect(path.startsWith('/trpc')).toBe(false);
  });

  it('marks exactly the authenticated operations with the bearer scheme', () => {
    const open = new Set([
      'post /api/v1/auth/register',
      'post /api/v1/auth/verify',
      'post /api/v1/auth/login',
      'post /api/v1/auth/refresh',
      // The signed query is the credential of the disk backend's blob transfers (as with S3).
      'put /api/v1/attachments/{id}/blob',
      'get /api/v1/attachments/{id}/blob',
      'get /health',
      'get /ready',
      'get /metrics',
    ]);
    for (const [path, item] of Object.entries(doc.paths as Json)) {
      for (const [method, op] of Object.entries(item as Json)) {
        const expected = open.has(`${method} ${path}`) ? undefined : [{ bearer: [] }];
        expect((op as Json).security, `${method} ${path}`).toEqual(expected);
      }
    }
  });

  it('every live reply of every operation validates against the document', async () => {
    // accounts
    const username = `u_${randomUUID().slice(0, 8)}`;
    const phone = randomPhone();
    const password = 'correct horse battery';
    conforms('post', '/api/v1/auth/register', await api.post('/auth/register', { username, phone, password }));
    const verified = conforms(
      'post',
      '/api/v1/auth/verify',
      await api.post('/auth/verify', { phone, code: await otp.codeFor(phone), deviceName: 'phone' }),
    );
    expect(verified.status).toBe(200);
    const alice: TestUser = { username, phone, password, ...verified.body };
    const login = conforms(
      'post',
      '/api/v1/auth/login',
      await api.post('/auth/login', { login: username, password, deviceName: 'laptop' }),
    );
    expect(login.status).toBe(200);
    const alice2: TestUser = { ...alice, ...login.body };
    // A device without a name: `name` is null in /me.
    const alice3 = await linkDevice(api, alice);
    const refreshed = conforms(
      'post',
      '/api/v1/auth/refresh',
      await api.post('/auth/refresh', { refreshToken: alice2.refreshToken }),
    );
    expect(refreshed.status).toBe(200);
    alice2.accessToken = refreshed.body.accessToken;
    const me = conforms('get', '/api/v1/me', await api.get('/me', { token: alice.accessToken }));
    expect(me.body.devices.map((d: Json) => d.name)).toEqual(['phone', 'laptop', null]);

    // keys, with real libsignal keys
    const bob = await createUser(api, otp);
    const bobDevice = await SignalDevice.create({ userId: bob.userId, deviceId: 1 });
    const bobKeys = await bobDevice.generateKeys({ preKeys: 1, kyberPreKeys: 1 });
    const uploaded = conforms(
      'post',
      '/api/v1/keys/upload',
      await api.post('/keys/upload', bobKeys, { token: bob.accessToken }),
    );
    expect(uploaded.body).toEqual({ preKeyCount: 1, kyberPreKeyCount: 1 });
    const aliceDevice = await SignalDevice.create({ userId: alice.userId, deviceId: 1 });
    const aliceKeys = await aliceDevice.generateKeys({ preKeys: 3, kyberPreKeys: 0, lastResort: false });
    conforms('post', '/api/v1/keys/upload', await api.post('/keys/upload', aliceKeys, { token: alice.accessToken }));
    conforms('get', '/api/v1/keys/count', await api.get('/keys/count', { token: bob.accessToken }));

    // A full bundle (one-time EC + Kyber prekey), then one with no EC prekey left and the last-resort Kyber key.
    const full = conforms(
      'get',
      '/api/v1/keys/bundle/{userId}',
      await api.get<BundleJson>(`/keys/bundle/${bob.userId}`, { token: alice.accessToken }),
    );
    expect(full.body.devices[0]?.preKey).toBeDefined();
    expect(full.body.devices[0]?.kyberPreKey).toBeDefined();
    const drained = conforms(
      'get',
      '/api/v1/keys/bundle/{userId}',
      await api.get<BundleJson>(`/keys/bundle/${bob.userId}?deviceId=1`, { token: alice.accessToken }),
    );
    expect(drained.body.devices[0]?.preKey).toBeUndefined();
    expect(drained.body.devices[0]?.kyberPreKey?.keyId).toBe(bobKeys.kyberLastResortPreKey?.keyId);
    // X3DH-only: a device that never uploaded a Kyber key has no kyberPreKey.
    const x3dh = conforms(
      'get',
      '/api/v1/keys/bundle/{userId}',
      await api.get<BundleJson>(`/keys/bundle/${alice.userId}`, { token: bob.accessToken }),
    );
    expect(x3dh.body.devices[0]?.kyberPreKey).toBeUndefined();

    const rotated = await bobDevice.generateKeys({ preKeys: 0, kyberPreKeys: 0, lastResort: false });
    conforms(
      'post',
      '/api/v1/keys/signed-prekey',
      await api.post('/keys/signed-prekey', rotated.signedPreKey, { token: bob.accessToken }),
    );
    const firstAliceKey = aliceKeys.preKeys[0]?.keyId as number;
    conforms(
      'delete',
      '/api/v1/keys/prekey/{id}',
      await api.del(`/keys/prekey/${firstAliceKey}`, { token: alice.accessToken }),
    );

    // messages: a real PreKeySignalMessage from alice to bob
    await aliceDevice.startSession(JSON.parse(JSON.stringify(full.body)), 1);
    const ciphertext = await aliceDevice.encrypt(bob.userId, 1, 'hello bob');
    const sent = conforms(
      'post',
      '/api/v1/messages/send',
      await api.post(
        '/messages/send',
        {
          recipientId: bob.userId,
          clientMessageId: randomUUID(),
          messages: [{ deviceId: 1, registrationId: bobDevice.registrationId, ...ciphertext }],
        },
        { token: alice.accessToken },
      ),
    );
    expect(sent.status).toBe(200);
    const messageId = sent.body.messages[0].messageId as string;
    // The shorthand form, with an iv and a message number.
    conforms(
      'post',
      '/api/v1/messages/send',
      await api.post(
        '/messages/send',
        {
          recipientId: bob.userId,
          encryptedContent: ciphertext.content,
          iv: 'AAAAAAAAAAAAAAAAAAAAAA==',
          messageNumber: 7,
        },
        { token: alice.accessToken },
      ),
    );

    const queue = conforms(
      'get',
      '/api/v1/messages/queue',
      await api.get('/messages/queue?limit=1', { token: bob.accessToken }),
    );
    expect(queue.body).toMatchObject({ more: true, messages: [{ id: messageId, content: ciphertext.content }] });
    conforms(
      'put',
      '/api/v1/messages/{id}/status',
      await api.put(`/messages/${messageId}/status`, { status: 'read' }, { token: bob.accessToken }),
    );
    conforms(
      'post',
      '/api/v1/messages/ack',
      await api.post('/messages/ack', { ids: [messageId] }, { token: bob.accessToken }),
    );
    const bobView = conforms(
      'get',
      '/api/v1/messages/{chatId}',
      await api.get(`/messages/${alice.userId}?limit=1`, { token: bob.accessToken }),
    );
    expect(bobView.body.nextCursor).toEqual(expect.any(String));
    const older = conforms(
      'get',
      '/api/v1/messages/{chatId}',
      await api.get(`/messages/${alice.userId}?cursor=${bobView.body.nextCursor}`, { token: bob.accessToken }),
    );
    expect(older.body.nextCursor).toBeNull();
    // The sender's view lists its own envelopes without content.
    const aliceView = conforms(
      'get',
      '/api/v1/messages/{chatId}',
      await api.get(`/messages/${bob.userId}`, { token: alice.accessToken }),
    );
    expect(aliceView.body.messages.map((m: Json) => m.content)).toEqual([null, null]);

    // WebSocket: the upgrade (101), and a refused one (401 with the error body)
    const socket = await TestSocket.connect(server.url, bob.accessToken);
    await socket.next((f) => f.type === 'queue.empty');
    socket.ws.close();
    seen.add('get /api/v1/messages/stream 101');
    conforms('get', '/api/v1/messages/stream', await raw('GET', '/api/v1/messages/stream'));

    // attachments (disk backend): create, upload, complete, get, download whole and ranged, delete
    const created = conforms(
      'post',
      '/api/v1/attachments',
      await api.post('/attachments', { size: 64, contentType: 'image/png' }, { token: alice.accessToken }),
    );
    const blobUrl = (u: string) => new URL(u, server.url).pathname + new URL(u, server.url).search;
    const uploaded64 = await raw('PUT', blobUrl(created.body.uploadUrl), {
      headers: created.body.uploadHeaders,
      body: new Uint8Array(64),
    });
    conforms('put', '/api/v1/attachments/{id}/blob', uploaded64);
    const attachmentId = created.body.attachmentId as string;
    conforms(
      'post',
      '/api/v1/attachments/{id}/complete',
      await api.post(`/attachments/${attachmentId}/complete`, undefined, { token: alice.accessToken }),
    );
    const att = conforms(
      'get',
      '/api/v1/attachments/{id}',
      await api.get(`/attachments/${attachmentId}`, { token: bob.accessToken }),
    );
    for (const [headers, status] of [
      [{}, 200],
      [{ range: 'bytes=0-9' }, 206],
    ] as const) {
      const res = await fetch(new URL(att.body.downloadUrl, server.url), { headers });
      expect(res.status).toBe(status);
      expect((await res.arrayBuffer()).byteLength).toBe(status === 200 ? 64 : 10);
      const documented = doc.paths['/api/v1/attachments/{id}/blob'].get.responses[String(status)];
      expect(documented.content['application/octet-stream']).toBeDefined();
      seen.add(`get /api/v1/attachments/{id}/blob ${status}`);
    }
    conforms(
      'get',
      '/api/v1/attachments/{id}/blob',
      await raw('GET', blobUrl(att.body.downloadUrl), { headers: { range: 'bytes=64-' } }),
    );
    conforms(
      'get',
      '/api/v1/attachments/{id}/blob',
      await raw('GET', blobUrl(att.body.downloadUrl).replace(/signature=./, 'signature=A')),
    );
    conforms(
      'delete',
      '/api/v1/attachments/{id}',
      await api.del(`/attachments/${attachmentId}`, { token: bob.accessToken }),
    );
    conforms(
      'delete',
      '/api/v1/attachments/{id}',
      await api.del(`/attachments/${attachmentId}`, { token: alice.accessToken }),
    );
    conforms(
      'get',
      '/api/v1/attachments/{id}',
      await api.get(`/attachments/${attachmentId}`, { token: bob.accessToken }),
    );
    conforms(
      'post',
      '/api/v1/attachments',
      await api.post('/attachments', { size: 200 * 1024 * 1024 }, { token: alice.accessToken }),
    );
    // calls: Bob's signaling socket (101), Alice places, Bob answers over REST, ICE, hangup
    const bobSignal = await TestSocket.connect(server.url, bob.accessToken, 'header', '/api/v1/calls/signal');
    bobSignal.send({ type: 'ping' });
    await bobSignal.next((f) => f.type === 'pong');
    seen.add('get /api/v1/calls/signal 101');
    conforms('get', '/api/v1/calls/signal', await raw('GET', '/api/v1/calls/signal'));
    const offered = conforms(
      'post',
      '/api/v1/calls/offer',
      await api.post(
        '/calls/offer',
        { calleeId: bob.userId, sdp: 'v=0', media: 'audio' },
        { token: alice.accessToken },
      ),
    );
    const callId = offered.body.callId as string;
    await bobSignal.next((f) => f.type === 'offer' && f.callId === callId);
    conforms(
      'post',
      '/api/v1/calls/answer',
      await api.post('/calls/answer', { callId, sdp: 'v=0' }, { token: bob.accessToken }),
    );
    conforms(
      'post',
      '/api/v1/calls/ice',
      await api.post('/calls/ice', { callId, candidates: ['candidate:1'] }, { token: alice.accessToken }),
    );
    conforms('get', '/api/v1/calls/{callId}', await api.get(`/calls/${callId}`, { token: alice.accessToken }));
    conforms('post', '/api/v1/calls/hangup', await api.post('/calls/hangup', { callId }, { token: bob.accessToken }));
    const ended = conforms(
      'get',
      '/api/v1/calls/{callId}',
      await api.get(`/calls/${callId}`, { token: bob.accessToken }),
    );
    expect(ended.body).toMatchObject({ state: 'ended', endReason: 'hangup' });
    conforms('get', '/api/v1/calls', await api.get('/calls?limit=1', { token: alice.accessToken }));
    conforms('get', '/api/v1/calls/turn', await api.get('/calls/turn', { token: alice.accessToken }));
    bobSignal.ws.close();

    // sessions end last
    conforms('post', '/api/v1/auth/logout', await api.post('/auth/logout', undefined, { token: alice3.accessToken }));
    conforms(
      'delete',
      '/api/v1/devices/{deviceId}',
      await api.del(`/devices/${alice2.deviceId}`, { token: alice.accessToken }),
    );

    // ops
    conforms('get', '/health', await raw('GET', '/health'));
    conforms('get', '/ready', await raw('GET', '/ready'));
    const metrics = await raw('GET', '/metrics');
    expect(metrics.status).toBe(200);
    expect(metrics.headers.get('content-type')).toMatch(/^text\/plain/);
    expect(doc.paths['/metrics'].get.responses['200'].content['text/plain']).toBeDefined();
    seen.add('get /metrics 200');

    // Every documented operation was exercised with its success status.
    for (const [path, item] of Object.entries(doc.paths as Json)) {
      for (const [method, op] of Object.entries(item as Json)) {
        const success = Object.keys((op as Json).responses).filter((s) => /^2|^101$/.test(s));
        // One success status, except a ranged download's 206 beside its 200.
        expect(success.length, `${method} ${path}`).toBe(path.endsWith('/blob') && method === 'get' ? 2 : 1);
        for (const s of success)
          expect(seen, `${method} ${path} ${s} never exercised`).toContain(`${method} ${path} ${s}`);
      }
    }
  });

  it('error replies validate against ErrorBody', async () => {
    const user = await createUser(api, otp);
    const token = user.accessToken;
    // 400: invalid body, malformed JSON, unknown field, bad path parameter
    const invalid = conforms('post', '/api/v1/auth/register', await api.post('/auth/register', { username: 'x' }));
    expect(invalid.body.error.code).toBe('VALIDATION_FAILED');
    const malformed = conforms(
      'post',
      '/api/v1/auth/login',
      await raw('POST', '/api/v1/auth/login', { headers: { 'content-type': 'application/json' }, body: '{"login":' }),
    );
    expect(malformed.status).toBe(400);
    conforms('get', '/api/v1/keys/bundle/{userId}', await api.get('/keys/bundle/not-a-uuid', { token }));
    // 401: no token, wrong password, unknown refresh token
    const anonymous = conforms('get', '/api/v1/me', await api.get('/me'));
    expect(anonymous.body.error.code).toBe('UNAUTHORIZED');
    conforms(
      'post',
      '/api/v1/auth/login',
      await api.post('/auth/login', { login: user.username, password: 'wrong password' }),
    );
    conforms('post', '/api/v1/auth/refresh', await api.post('/auth/refresh', { refreshToken: 'nope' }));
    // 403: device 1 cannot be unlinked
    const forbidden = conforms('delete', '/api/v1/devices/{deviceId}', await api.del('/devices/1', { token }));
    expect(forbidden.body.error.code).toBe('FORBIDDEN');
    // 404: a user without keys
    const missing = conforms(
      'get',
      '/api/v1/keys/bundle/{userId}',
      await api.get(`/keys/bundle/${randomUUID()}`, { token }),
    );
    expect(missing.status).toBe(404);
    // 409 / 410 with their details
    const bob = await createUser(api, otp);
    const bobDevice = await SignalDevice.create({ userId: bob.userId, deviceId: 1 });
    await api.post('/keys/upload', await bobDevice.generateKeys({ preKeys: 1, kyberPreKeys: 1 }), {
      token: bob.accessToken,
    });
    const envelope = { registrationId: bobDevice.registrationId, type: 'message', content: 'AAAA' };
    const mismatched = conforms(
      'post',
      '/api/v1/messages/send',
      await api.post(
        '/messages/send',
        { recipientId: bob.userId, messages: [{ ...envelope, deviceId: 2 }] },
        { token },
      ),
    );
    expect(mismatched.body.error).toMatchObject({ code: 'MISMATCHED_DEVICES', details: { missingDevices: [1] } });
    const stale = conforms(
      'post',
      '/api/v1/messages/send',
      await api.post(
        '/messages/send',
        {
          recipientId: bob.userId,
          messages: [{ ...envelope, deviceId: 1, registrationId: (bobDevice.registrationId % 16_380) + 1 }],
        },
        { token },
      ),
    );
    expect(stale.body.error).toMatchObject({ code: 'STALE_DEVICES', details: { staleDevices: [1] } });
    // 413 and 415
    const big = conforms(
      'post',
      '/api/v1/messages/ack',
      await raw('POST', '/api/v1/messages/ack', {
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ ids: ['x'.repeat(3 * 1024 * 1024)] }),
      }),
    );
    expect(big.status).toBe(413);
    const text = conforms(
      'post',
      '/api/v1/auth/register',
      await raw('POST', '/api/v1/auth/register', { headers: { 'content-type': 'text/plain' }, body: 'hello' }),
    );
    expect(text.status).toBe(415);
    // A WebSocket upgrade with a bad token is refused with the documented 401
    await expect(TestSocket.connect(server.url, 'not-a-token')).rejects.toThrow(/upgrade refused: 401/);
    expect(doc.paths['/api/v1/messages/stream'].get.responses['401']).toBeDefined();
  });

  it('serves the Scalar reference page at /docs, with its script bundled (no CDN)', async () => {
    const res = await fetch(`${server.url}/docs`);
    expect(res.status).toBe(200);
    expect(res.url).toBe(`${server.url}/docs/`);
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    const html = await res.text();
    expect(html).toContain('/api/v1/openapi.json');
    expect(html).toContain('<script src="js/scalar.js"');
    expect(html).not.toMatch(/<script[^>]+src="https?:/);
    const js = await fetch(`${server.url}/docs/js/scalar.js`);
    expect(js.status).toBe(200);
    expect(js.headers.get('content-type')).toMatch(/javascript/);
    await js.arrayBuffer();
  });
});
