import { mkdtemp, rm } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'minio';
import { afterAll, beforeAll, describe, inject } from 'vitest';
import { describeBlobStore } from '../../src/infra/blob/blob-store.contract.js';
import { DiskBlobStore } from '../../src/infra/blob/disk-blob-store.js';
import { MinioBlobStore } from '../../src/infra/blob/minio-blob-store.js';
import { BlobUrlSigner } from '../../src/infra/blob/url-signer.js';
import { type CephRgw, startCephRgw } from '../helpers/ceph-rgw.js';

/** s3rver ships no type declarations; the part used here. */
interface S3rverServer {
  run(): Promise<AddressInfo>;
  close(): Promise<void>;
}
const S3rver = createRequire(import.meta.url)('s3rver') as new (opts: {
  address: string;
  port: number;
  directory: string;
  silent: boolean;
}) => S3rverServer;

/** The S3 store on a fresh bucket per test (the store must create it on first use). */
function minioSubject(server: { endPoint: string; port: number; accessKey: string; secretKey: string }) {
  const client = new Client({ ...server, useSSL: false, region: 'us-east-1', pathStyle: true });
  const bucket = `contract-${randomBytes(6).toString('hex')}`;
  return { impl: new MinioBlobStore(client, bucket, 'us-east-1'), cleanup: async () => {} };
}

describeBlobStore('DiskBlobStore', async () => {
  const root = await mkdtemp(join(tmpdir(), 'st-blob-contract-'));
  return {
    impl: new DiskBlobStore(join(root, 'blobs'), new BlobUrlSigner(randomBytes(32), (k) => `/blob/${k}`, undefined)),
    cleanup: () => rm(root, { recursive: true, force: true }),
  };
});

describe('MinioBlobStore against s3rver', () => {
  let dir: string;
  let server: S3rverServer;
  let port: number;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'st-s3rver-'));
    server = new S3rver({ address: '127.0.0.1', port: 0, directory: dir, silent: true });
    port = (await server.run()).port;
  });
  afterAll(async () => {
    await server?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  describeBlobStore('MinioBlobStore', async () =>
    minioSubject({ endPoint: '127.0.0.1', port, accessKey: 'S3RVER', secretKey: 'S3RVER' }),
  );
});

// The same contract against a real S3 server: signatures checked (SigV4), buckets and objects as
// a production S3 keeps them. The test run's Ceph RADOS gateway, shared with the attachment suites.
describe('MinioBlobStore against a real S3 (Ceph RGW)', () => {
  let rgw: CephRgw;
  beforeAll(async () => {
    rgw = await startCephRgw(inject('runDir'));
  }, 300_000);

  describeBlobStore('MinioBlobStore (Ceph RGW)', async () => {
    const { hostname, port } = new URL(rgw.endpoint);
    return minioSubject({ endPoint: hostname, port: Number(port), accessKey: rgw.accessKey, secretKey: rgw.secretKey });
  });
});
