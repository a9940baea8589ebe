import type { Kv } from './kv.js';

interface Entry {
  value: string;
  expiresAt: number;
}

export class MemoryKv implements Kv {
  readonly backend = 'memory' as const;
  private readonly map = new Map<string, Entry>();
  private readonly sweeper = setInterval(() => this.sweep(), 30_000).unref();

  private live(key: string): Entry | undefined {
    const e = this.map.get(key);
    if (e && e.expiresAt <= Date.now()) {
      this.map.delete(key);
      return undefined;
    }
    return e;
  }

  private sweep(): void {
    const now = Date.now();
    for (const [k, e] of this.map) if (e.expiresAt <= now) this.map.delete(k);
  }

  async get(key: string): Promise<string | null> {
    return this.live(key)?.value ?? null;
  }

  async set(key: string, value: string, ttlMs?: number): Promise<void> {
    this.map.set(key, { value, expiresAt: ttlMs ? Date.now() + ttlMs : Number.POSITIVE_INFINITY });
  }

  async setIfAbsent(key: string, value: string, ttlMs: number): Promise<boolean> {
    if (this.live(key)) return false;
    await this.set(key, value, ttlMs);
    return true;
  }

  async incr(key: string, ttlMs: number): Promise<number> {
    const e = this.live(key);
    const next = (e ? Number.parseInt(e.value, 10) || 0 : 0) + 1;
    this.map.set(key, { value: String(next), expiresAt: e ? e.expiresAt : Date.now() + ttlMs });
    return next;
  }

  async del(key: string): Promise<void> {
    this.map.delete(key);
  }

  async ping(): Promise<void> {}

  async close(): Promise<void> {
    clearInterval(this.sweeper);
    this.map.clear();
  }
}
