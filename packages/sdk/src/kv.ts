/** Where a device keeps its Signal state (sessions, identities, keys). Values are opaque bytes. */
export interface KeyValueStore {
  get(key: string): Promise<Uint8Array<ArrayBuffer> | null>;
  set(key: string, value: Uint8Array): Promise<void>;
  delete(key: string): Promise<void>;
  /** Keys that start with `prefix`. */
  keys(prefix: string): Promise<string[]>;
}

export class MemoryKeyValueStore implements KeyValueStore {
  private readonly map = new Map<string, Uint8Array<ArrayBuffer>>();

  async get(key: string) {
    return this.map.get(key) ?? null;
  }

  async set(key: string, value: Uint8Array) {
    this.map.set(key, new Uint8Array(value));
  }

  async delete(key: string) {
    this.map.delete(key);
  }

  async keys(prefix: string) {
    return [...this.map.keys()].filter((k) => k.startsWith(prefix));
  }
}
