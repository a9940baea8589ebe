import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { assertBlobKey, type BlobInfo, type BlobStore } from './blob-store.js';

export class DiskBlobStore implements BlobStore {
  readonly backend = 'disk' as const;

  constructor(private readonly root: string) {}

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
    await writeFile(`${tmp}.meta`, JSON.stringify({ contentType }));
    await rename(`${tmp}.meta`, `${p}.meta`);
    await rename(tmp, p);
  }

  async get(key: string): Promise<Uint8Array | null> {
    return readFile(this.path(key)).catch(notFoundAsNull);
  }

  async stat(key: string): Promise<BlobInfo | null> {
    const p = this.path(key);
    const s = await stat(p).catch(notFoundAsNull);
    if (!s) return null;
    const meta = await readFile(`${p}.meta`, 'utf8').catch(() => '{}');
    const contentType = (JSON.parse(meta) as { contentType?: string }).contentType ?? 'application/octet-stream';
    return { size: s.size, contentType };
  }

  async delete(key: string): Promise<void> {
    const p = this.path(key);
    await rm(p, { force: true });
    await rm(`${p}.meta`, { force: true });
  }

  async ping(): Promise<void> {
    await mkdir(this.root, { recursive: true });
    await stat(this.root);
  }
}

function notFoundAsNull(e: NodeJS.ErrnoException): null {
  if (e.code === 'ENOENT') return null;
  throw e;
}
