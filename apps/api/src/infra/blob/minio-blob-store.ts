import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Client } from 'minio';
import {
  assertBlobKey,
  type BlobInfo,
  type BlobReadStream,
  type BlobStore,
  type ByteRange,
  type PresignedRequest,
} from './blob-store.js';
import { byteLimit } from './byte-limit.js';

export class MinioBlobStore implements BlobStore {
  readonly backend = 's3' as const;
  private bucketReady: Promise<void> | undefined;

  constructor(
    private readonly client: Client,
    private readonly bucket: string,
    private readonly region: string,
  ) {}

  private ensureBucket(): Promise<void> {
    this.bucketReady ??= (async () => {
      if (!(await this.client.bucketExists(this.bucket))) await this.client.makeBucket(this.bucket, this.region);
    })().catch((e: unknown) => {
      this.bucketReady = undefined;
      throw e;
    });
    return this.bucketReady;
  }

  async put(key: string, data: Uint8Array, contentType = 'application/octet-stream'): Promise<void> {
    assertBlobKey(key);
    await this.ensureBucket();
    await this.client.putObject(this.bucket, key, Buffer.from(data), data.byteLength, { 'Content-Type': contentType });
  }

  async putStream(key: string, source: Readable, opts: { maxBytes: number; contentType?: string }): Promise<BlobInfo> {
    assertBlobKey(key);
    await this.ensureBucket();
    const contentType = opts.contentType ?? 'application/octet-stream';
    // Spooled to a temporary file first: S3 needs the length up front for a single PUT (S3 servers
    // differ in their support of chunked uploads), memory stays flat, and nothing reaches the bucket
    // unless the whole stream arrived within maxBytes.
    const dir = await mkdtemp(join(tmpdir(), 'st-blob-'));
    try {
      const file = join(dir, 'blob');
      const limit = byteLimit(opts.maxBytes);
      await pipeline(source, limit, createWriteStream(file));
      await this.client.putObject(this.bucket, key, createReadStream(file), limit.bytes, {
        'Content-Type': contentType,
      });
      return { size: limit.bytes, contentType };
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  async get(key: string): Promise<Uint8Array | null> {
    assertBlobKey(key);
    await this.ensureBucket();
    try {
      const stream = await this.client.getObject(this.bucket, key);
      const chunks: Buffer[] = [];
      for await (const c of stream) chunks.push(c as Buffer);
      return Buffer.concat(chunks);
    } catch (e) {
      return notFoundAsNull(e);
    }
  }

  async getStream(key: string, range?: ByteRange): Promise<BlobReadStream | null> {
    const info = await this.stat(key);
    if (!info) return null;
    if (range && (range.start < 0 || range.end < range.start || range.end >= info.size)) {
      throw new RangeError(`range ${range.start}-${range.end} outside a blob of ${info.size} bytes`);
    }
    try {
      const stream = range
        ? await this.client.getPartialObject(this.bucket, key, range.start, range.end - range.start + 1)
        : await this.client.getObject(this.bucket, key);
      return { ...info, stream };
    } catch (e) {
      return notFoundAsNull(e);
    }
  }

  async stat(key: string): Promise<BlobInfo | null> {
    assertBlobKey(key);
    await this.ensureBucket();
    try {
      const s = await this.client.statObject(this.bucket, key);
      const meta = s.metaData as Record<string, string | undefined>;
      return { size: s.size, contentType: meta['content-type'] ?? 'application/octet-stream' };
    } catch (e) {
      return notFoundAsNull(e);
    }
  }

  async delete(key: string): Promise<void> {
    assertBlobKey(key);
    await this.ensureBucket();
    await this.client.removeObject(this.bucket, key);
  }

  async presignPut(key: string, opts: { contentType: string; expiresInS: number }): Promise<PresignedRequest> {
    assertBlobKey(key);
    await this.ensureBucket();
    const expiresAt = new Date(Date.now() + opts.expiresInS * 1000);
    const url = await this.client.presignedPutObject(this.bucket, key, opts.expiresInS);
    return { url, headers: { 'content-type': opts.contentType }, expiresAt };
  }

  async presignGet(key: string, opts: { expiresInS: number }): Promise<PresignedRequest> {
    assertBlobKey(key);
    await this.ensureBucket();
    const expiresAt = new Date(Date.now() + opts.expiresInS * 1000);
    return { url: await this.client.presignedGetObject(this.bucket, key, opts.expiresInS), headers: {}, expiresAt };
  }

  async ping(): Promise<void> {
    await this.ensureBucket();
  }
}

function notFoundAsNull(e: unknown): null {
  const code = (e as { code?: string }).code;
  if (code === 'NoSuchKey' || code === 'NotFound') return null;
  throw e;
}
