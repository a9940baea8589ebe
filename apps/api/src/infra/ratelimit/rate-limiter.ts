export interface LimitRule {
  /** Distinguishes counters of different limits that share a key (e.g. an IP). */
  name: string;
  points: number;
  durationS: number;
}

export interface LimitState {
  allowed: boolean;
  remaining: number;
  /** Whole seconds until the window frees a point; 0 when allowed. */
  retryAfterS: number;
}

/** Fixed-window counters per (rule, key), shared by every API node in Redis mode. */
export interface RateLimiter {
  readonly backend: 'redis' | 'memory';
  /** Counts `points` against the key; `allowed` is false once the rule's budget is exceeded. */
  consume(rule: LimitRule, key: string, points?: number): Promise<LimitState>;
  /** Reads the state without counting (e.g. "has this account failed too often?"). */
  peek(rule: LimitRule, key: string): Promise<LimitState>;
  reset(rule: LimitRule, key: string): Promise<void>;
}
