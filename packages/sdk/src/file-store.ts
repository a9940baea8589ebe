import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { KeyValueStore } from './kv.js';

/**
 * A JSON file on disk (Node only). Writes go to a temp file then rename, so a crash never leaves a
 * half-written store; writes are serialised so concurrent updates cannot interleave.
 */
export class FileKeyValueStore implements KeyValueStore {
  private data: Map<string, string> | undefined;
  private writing: Promise<void> = Promise.resolve();

  constructor(private readonly path: string) {}

  private async load(): Promise<Map<string, string>> {
    if (!this.data) {
      const raw = await readFile(this.path, 'utf8').catch((e: NodeJS.ErrnoException) => {
        if (e.code === 'ENOENT') return '{}';
        throw e;
      });
      this.data = new Map(Object.entries(JSON.parse(raw) as Record<string, string>));
    }
    return this.data;
  }

  private persist(): Promise<void> {
    this.writing = this.writing.then(async () => {
      const data = await this.load();
      await mkdir(dirname(this.path), { recursive: true });
      const tmp = `${this.path}.tmp`;
      await writeFile(tmp, JSON.stringify(Object.fromEntries(data)), { mode: 0o600 });
      await rename(tmp, this.path);
    });
    return this.writing;
  }

  async get(key: string) {
    const v = (await this.load()).get(key);
    return v === undefined ? null : new Uint8Array(Buffer.from(v, 'base64'));
  }

  async set(key: string, value: Uint8Array) {
    (await this.load()).set(key, Buffer.from(value).toString('base64'));
    await this.persist();
  }

  async delete(key: string) {
    if ((await this.load()).delete(key)) await this.persist();
  }

  async keys(prefix: string) {
    return [...(await this.load()).keys()].filter((k) => k.startsWith(prefix));
  }
}
