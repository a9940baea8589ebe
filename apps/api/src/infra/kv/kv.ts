/** Small key-value store with expiry (OTP codes, presence, short-lived state). */
export interface Kv {
  readonly backend: 'redis' | 'memory';
  get(key: string): Promise<string | null>;
  set(key: string, value: string, ttlMs?: number): Promise<void>;
  /** Sets only when the key is absent; true when this call set it. */
  setIfAbsent(key: string, value: string, ttlMs: number): Promise<boolean>;
  /** Increments an integer (absent = 0); the TTL is applied when the key is created. */
  incr(key: string, ttlMs: number): Promise<number>;
  del(key: string): Promise<void>;
  ping(): Promise<void>;
  close(): Promise<void>;
}
