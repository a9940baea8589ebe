import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { randomUUID } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import { KeyExchangeService } from '@snaptalker/proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config/index.js';
import type { RunningServer } from '../../src/server.js';
import { failure, grpcClient } from '../helpers/grpc-client.js';
import { startTestServer, testEnv } from '../helpers/server.js';

describe('gRPC over TLS (GRPC_TLS_CERT_FILE + GRPC_TLS_KEY_FILE)', () => {
  let dir: string;
  let server: RunningServer;
  let cert: Buffer;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'st-tls-'));
    // A throwaway self-signed certificate for 127.0.0.1, made for this run only.
    await promisify(execFile)('openssl', [
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
      '/CN=localhost',
      '-addext',
      'subjectAltName=IP:127.0.0.1,DNS:localhost',
      '-keyout',
      join(dir, 'key.pem'),
      '-out',
      join(dir, 'cert.pem'),
    ]);
    cert = await readFile(join(dir, 'cert.pem'));
    server = await startTestServer({
      GRPC_TLS_CERT_FILE: join(dir, 'cert.pem'),
      GRPC_TLS_KEY_FILE: join(dir, 'key.pem'),
    });
  });
  afterAll(async () => {
    await server?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('serves over TLS to a client that trusts the certificate, and not in plaintext', async () => {
    const tls = grpcClient(KeyExchangeService, server.grpcPort, {}, grpc.credentials.createSsl(cert));
    // Our own UNAUTHENTICATED (with its trailer) proves the call crossed TLS and reached the handler.
    expect(await failure(tls.getKeyBundle({ userId: randomUUID() }))).toMatchObject({
      code: grpc.status.UNAUTHENTICATED,
      trailers: { 'error-code': 'UNAUTHORIZED' },
    });
    tls.close();
    const plain = grpcClient(KeyExchangeService, server.grpcPort, { deadlineMs: 2_000 });
    expect((await failure(plain.getKeyBundle({ userId: randomUUID() }))).code).toBeOneOf([
      grpc.status.UNAVAILABLE,
      grpc.status.DEADLINE_EXCEEDED,
    ]);
    plain.close();
  });

  it('refuses a configuration with only one of the two files', async () => {
    const env = await testEnv({ GRPC_TLS_CERT_FILE: join(dir, 'cert.pem') });
    expect(() => loadConfig(env)).toThrow(ConfigError);
    expect(() => loadConfig(env)).toThrow(/GRPC_TLS_CERT_FILE/);
  });
});
