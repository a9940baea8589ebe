import { execFile } from 'node:child_process';
import { randomUUID, X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type SecureVersion } from 'node:tls';
import { promisify } from 'node:util';
import * as grpc from '@grpc/grpc-js';
import { KeyExchangeService } from '@snaptalker/proto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import WebSocket from 'ws';
import { ensureBuilt } from '../helpers/build.js';
import { failure, grpcClient } from '../helpers/grpc-client.js';
import { COMPILED_ARGS, type ServerProcess, spawnServer } from '../helpers/process.js';
import { waitFor } from '../helpers/tcp-proxy.js';

const run = promisify(execFile);

/** A throwaway self-signed certificate for 127.0.0.1 (openssl, as an operator would make one). */
async function makeCert(dir: string, cn: string) {
  await run('openssl', [
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-days',
    '1',
    '-subj',
    `/CN=${cn}`,
    '-addext',
    'subjectAltName=IP:127.0.0.1,DNS:localhost',
    '-keyout',
    join(dir, 'key.pem'),
    '-out',
    join(dir, 'cert.pem'),
  ]);
  return readFile(join(dir, 'cert.pem'));
}

interface Handshake {
  protocol: string | null;
  fingerprint: string;
}

/** A bare TLS handshake with the given version bounds; resolves with what was negotiated. */
function handshake(port: number, ca: Buffer, v: { min?: SecureVersion; max?: SecureVersion }, alpn?: string[]) {
  return new Promise<Handshake>((resolve, reject) => {
    const s = connect({
      host: '127.0.0.1',
      servername: 'localhost',
      port,
      ca,
      minVersion: v.min,
      maxVersion: v.max,
      ALPNProtocols: alpn,
    });
    s.once('secureConnect', () => {
      resolve({ protocol: s.getProtocol(), fingerprint: s.getPeerX509Certificate()?.fingerprint256 ?? '' });
      s.end();
    });
    s.once('error', reject);
  });
}

function httpsGet(url: string, ca: Buffer, maxVersion?: SecureVersion) {
  return new Promise<{ status: number; body: string; protocol: string | null }>((resolve, reject) => {
    const req = request(url, { ca, maxVersion, minVersion: 'TLSv1.2', agent: false }, (res) => {
      const protocol = (res.socket as import('node:tls').TLSSocket).getProtocol();
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, protocol }));
    });
    req.once('error', reject);
    req.end();
  });
}

function wssOpen(url: string, ca: Buffer, maxVersion?: SecureVersion) {
  return new Promise<string | null>((resolve, reject) => {
    const ws = new WebSocket(url, { ca, maxVersion, minVersion: 'TLSv1.2' });
    ws.once('open', () => {
      const protocol = (ws as unknown as { _socket: import('node:tls').TLSSocket })._socket.getProtocol();
      ws.close();
      resolve(protocol);
    });
    ws.once('error', reject);
  });
}

describe('TLS 1.3 only, on the compiled server (TLS_CERT_FILE + TLS_KEY_FILE)', () => {
  let dir: string;
  let cert: Buffer;
  let server: ServerProcess;
  let httpsPort: number;
  let grpcPort: number;

  beforeAll(async () => {
    ensureBuilt();
    dir = await mkdtemp(join(tmpdir(), 'st-tls13-'));
    cert = await makeCert(dir, 'snaptalker-first');
    server = await spawnServer(
      {
        DATABASE_URL: inject('databaseUrl'),
        REDIS_URL: inject('redisUrl'),
        JWT_SECRET: 'test-secret-test-secret-test-secret-0123',
        NODE_ENV: 'production',
        HOST: '127.0.0.1',
        PORT: '0',
        GRPC_PORT: '0',
        // One pair for both listeners: gRPC falls back to TLS_* when GRPC_TLS_* are unset.
        TLS_CERT_FILE: join(dir, 'cert.pem'),
        TLS_KEY_FILE: join(dir, 'key.pem'),
      },
      60_000,
      COMPILED_ARGS,
    );
    httpsPort = Number(new URL(server.url).port);
    grpcPort = Number(/"port":(\d+),"tls":true,"msg":"grpc listening"/.exec(server.output())?.[1]);
  }, 240_000);
  afterAll(async () => {
    server?.kill('SIGKILL');
    await rm(dir, { recursive: true, force: true });
  });

  it('serves HTTPS to a TLS 1.3 client and refuses a TLS 1.2-only client', async () => {
    expect(server.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    const ok = await httpsGet(`${server.url}/health`, cert);
    expect(ok).toMatchObject({ status: 200, protocol: 'TLSv1.3' });
    expect(JSON.parse(ok.body)).toEqual({ status: 'ok' });
    await expect(httpsGet(`${server.url}/health`, cert, 'TLSv1.2')).rejects.toThrow(/protocol version|alert/i);
  });

  it('serves WSS to a TLS 1.3 client and refuses a TLS 1.2-only client', async () => {
    const wss = `wss://127.0.0.1:${httpsPort}/trpc`;
    expect(await wssOpen(wss, cert)).toBe('TLSv1.3');
    await expect(wssOpen(wss, cert, 'TLSv1.2')).rejects.toThrow(/protocol version|alert/i);
  });

  it('serves gRPC over TLS 1.3 and refuses a TLS 1.2-only client', async () => {
    expect(grpcPort).toBeGreaterThan(0);
    // Our own UNAUTHENTICATED proves the call crossed TLS and reached the handler.
    const tls13 = grpcClient(KeyExchangeService, grpcPort, {}, grpc.credentials.createSsl(cert));
    expect(await failure(tls13.getKeyBundle({ userId: randomUUID() }))).toMatchObject({
      code: grpc.status.UNAUTHENTICATED,
      trailers: { 'error-code': 'UNAUTHORIZED' },
    });
    tls13.close();
    expect((await handshake(grpcPort, cert, {}, ['h2'])).protocol).toBe('TLSv1.3');

    const { createSecureContext } = await import('node:tls');
    const tls12 = grpcClient(
      KeyExchangeService,
      grpcPort,
      { deadlineMs: 3_000 },
      grpc.credentials.createFromSecureContext(createSecureContext({ ca: cert, maxVersion: 'TLSv1.2' })),
    );
    expect((await failure(tls12.getKeyBundle({ userId: randomUUID() }))).code).toBeOneOf([
      grpc.status.UNAVAILABLE,
      grpc.status.DEADLINE_EXCEEDED,
    ]);
    tls12.close();
    await expect(handshake(grpcPort, cert, { max: 'TLSv1.2' }, ['h2'])).rejects.toThrow(/protocol version|alert/i);
  });

  it('SIGHUP reloads the certificate files into both listeners without a restart', async () => {
    const before = new X509Certificate(cert).fingerprint256;
    expect((await handshake(httpsPort, cert, {})).fingerprint).toBe(before);
    const renewed = await makeCert(dir, 'snaptalker-renewed');
    const after = new X509Certificate(renewed).fingerprint256;
    expect(after).not.toBe(before);
    server.kill('SIGHUP');
    await waitFor(async () => server.output().includes('TLS certificates reloaded'), 10_000);
    expect((await handshake(httpsPort, renewed, {})).fingerprint).toBe(after);
    expect((await handshake(grpcPort, renewed, {}, ['h2'])).fingerprint).toBe(after);
    expect((await httpsGet(`${server.url}/health`, renewed)).status).toBe(200);
  });
});
