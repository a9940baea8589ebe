import type { Client } from 'minio';
import { assertBlobKey, type BlobInfo, type BlobStore } from './blob-store.js';

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

  async ping(): Promise<void> {
    await this.ensureBucket();
  }
}

function notFoundAsNull(e: unknown): null {
  const code = (e as { code?: string }).code;
  if (code === 'NoSuchKey' || code === 'NotFound') return null;
  throw e;
}
