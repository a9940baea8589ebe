import { createWriteStream } from 'node:fs';
import { mkdir, open, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { randomUUID } from 'node:crypto';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  assertBlobKey,
  type BlobInfo,
  type BlobReadStream,
  type BlobStore,
  type ByteRange,
  type PresignedRequest,
} from './blob-store.js';
import { byteLimit } from './byte-limit.js';
import type { BlobUrlSigner } from './url-signer.js';

export class DiskBlobStore implements BlobStore {
  readonly backend = 'disk' as const;

  /** `urls` signs the API's own blob route (presign*); without it presigning is unavailable. */
  constructor(
    private readonly root: string,
    private readonly urls?: BlobUrlSigner,
  ) {}

  /**
   * Directory segments end in '.d' and the blob file in '.blob' (its sidecar '.blob.meta'), so no key's file can be
   * another key's directory or sidecar: 'a' and 'a/b' coexist and 'x.meta' is an ordinary key, as in S3.
   */
  private path(key: string): string {
    assertBlobKey(key);
    const parts = key.split('/');
    const file = parts.pop() as string;
    return join(this.root, ...parts.map((dir) => `${dir}.d`), `${file}.blob`);
  }

  async put(key: string, data: Uint8Array, contentType = 'application/octet-stream'): Promise<void> {
    const p = this.path(key);
    await mkdir(dirname(p), { recursive: true });
    // Write then rename, so a reader never sees half a blob.
    const tmp = `${p}.${randomUUID()}.tmp`;
    await writeFile(tmp, data);
    await this.commit(tmp, p, contentType);
  }

  async putStream(key: string, source: Readable, opts: { maxBytes: number; contentType?: string }): Promise<BlobInfo> {
    const p = this.path(key);
    const contentType = opts.contentType ?? 'application/octet-stream';
    await mkdir(dirname(p), { recursive: true });
    // Streamed into a temporary file and renamed only once complete: a cut-off or oversized upload
    // leaves nothing behind, and memory stays at a few chunks whatever the size.
    const tmp = `${p}.${randomUUID()}.tmp`;
    const limit = byteLimit(opts.maxBytes);
    try {
      await pipeline(source, limit, createWriteStream(tmp, { flags: 'wx' }));
      await this.commit(tmp, p, contentType);
    } catch (e) {
      await rm(tmp, { force: true });
      await rm(`${tmp}.meta`, { force: true });
      throw e;
    }
    return { size: limit.bytes, contentType };
  }

  private async commit(tmp: string, p: string, contentType: string): Promise<void> {
    await writeFile(`${tmp}.meta`, JSON.stringify({ contentType }));
    await rename(`${tmp}.meta`, `${p}.meta`);
    await rename(tmp, p);
  }

  async get(key: string): Promise<Uint8Array | null> {
    return readFile(this.path(key)).catch(notFoundAsNull);
  }

  async getStream(key: string, range?: ByteRange): Promise<BlobReadStream | null> {
    const p = this.path(key);
    // One open file: size and bytes come from the same blob even if it is replaced or deleted meanwhile.
    const fh = await open(p, 'r').catch(notFoundAsNull);
    if (!fh) return null;
    try {
      const { size } = await fh.stat();
      if (range && (range.start < 0 || range.end < range.start || range.end >= size)) {
        throw new RangeError(`range ${range.start}-${range.end} outside a blob of ${size} bytes`);
      }
      const contentType = await this.contentType(p);
      const stream = fh.createReadStream(range ? { start: range.start, end: range.end } : {});
      return { stream, size, contentType };
    } catch (e) {
      await fh.close();
      throw e;
    }
  }

  private async contentType(p: string): Promise<string> {
    const meta = await readFile(`${p}.meta`, 'utf8').catch(() => '{}');
    return (JSON.parse(meta) as { contentType?: string }).contentType ?? 'application/octet-stream';
  }

  async stat(key: string): Promise<BlobInfo | null> {
    const p = this.path(key);
    const s = await stat(p).catch(notFoundAsNull);
    if (!s) return null;
    return { size: s.size, contentType: await this.contentType(p) };
  }

  async delete(key: string): Promise<void> {
    const p = this.path(key);
    await rm(p, { force: true });
    await rm(`${p}.meta`, { force: true });
  }

  async presignPut(key: string, opts: { contentType: string; expiresInS: number }): Promise<PresignedRequest> {
    const expiresAt = new Date(Date.now() + opts.expiresInS * 1000);
    return {
      url: this.signer().sign('PUT', checked(key), expiresAt),
      headers: { 'content-type': 'application/octet-stream' },
      expiresAt,
    };
  }

  async presignGet(key: string, opts: { expiresInS: number }): Promise<PresignedRequest> {
    const expiresAt = new Date(Date.now() + opts.expiresInS * 1000);
    return { url: this.signer().sign('GET', checked(key), expiresAt), headers: {}, expiresAt };
  }

  private signer(): BlobUrlSigner {
    if (!this.urls) throw new Error('this DiskBlobStore has no URL signer');
    return this.urls;
  }

  async ping(): Promise<void> {
    await mkdir(this.root, { recursive: true });
    await stat(this.root);
  }
}

function checked(key: string): string {
  assertBlobKey(key);
  return key;
}

function notFoundAsNull(e: NodeJS.ErrnoException): null {
  if (e.code === 'ENOENT') return null;
  throw e;
}
