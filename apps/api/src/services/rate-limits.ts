import { randomUUID } from 'node:crypto';
import { AppError } from '../domain/errors.js';
import { FlexibleRateLimiter } from '../infra/ratelimit/flexible-rate-limiter.js';
import type { LimitRule, RateLimiter } from '../infra/ratelimit/rate-limiter.js';

/** The one helper every service uses to apply a limit, whatever transport the call came from. */
export class Limits {
  /** Per-connection budgets count in this process: a connection lives on one node. */
  private readonly local: RateLimiter = new FlexibleRateLimiter('memory');

  constructor(private readonly limiter: RateLimiter) {}

  /** A fresh budget for one connection (see ConnectionBudget). */
  connection(rule: LimitRule, maxInFlight: number): ConnectionBudget {
    return new ConnectionBudget(this.local, rule, maxInFlight);
  }

  async consume(rule: LimitRule, key: string, points = 1): Promise<void> {
    const s = await this.limiter.consume(rule, key, points);
    if (!s.allowed) throw rateLimited(s.retryAfterS);
  }

  /** Throws when the budget is already spent, without counting (for "N failures" limits). */
  async check(rule: LimitRule, key: string): Promise<void> {
    const s = await this.limiter.peek(rule, key);
    if (!s.allowed) throw rateLimited(s.retryAfterS);
  }

  async fail(rule: LimitRule, key: string): Promise<void> {
    await this.limiter.consume(rule, key);
  }

  reset(rule: LimitRule, key: string): Promise<void> {
    return this.limiter.reset(rule, key);
  }
}

export function rateLimited(retryAfterS: number): AppError {
  return new AppError(
    'RATE_LIMITED',
    `too many requests; retry in ${retryAfterS} s`,
    { retryAfter: retryAfterS },
    retryAfterS,
  );
}

/**
 * The budget of one connection (a WebSocket): frames per window, weighted by the work they ask for,
 * and a bound on frames being processed at once. It is this process's own — a socket lives on one
 * node — so admitting a frame costs no network round trip. A client that keeps sending after being
 * refused is told to go away (`exhausted`), so refusals cannot become a flood of their own.
 */
export class ConnectionBudget {
  private inFlight = 0;
  private refusedInARow = 0;
  private readonly key = randomUUID();

  constructor(
    private readonly local: RateLimiter,
    private readonly rule: LimitRule,
    private readonly maxInFlight: number,
  ) {}

  /** `ok`: call `done()` when the frame's work ends. Otherwise the frame must be refused. */
  async admit(points = 1): Promise<'ok' | 'busy' | 'rate'> {
    // Synchronous first: the bound on queued work holds even while the limiter answers.
    if (this.inFlight >= this.maxInFlight) return this.refuse('busy');
    this.inFlight++;
    const s = await this.local.consume(this.rule, this.key, points);
    if (!s.allowed) {
      this.inFlight--;
      return this.refuse('rate');
    }
    this.refusedInARow = 0;
    return 'ok';
  }

  done(): void {
    this.inFlight--;
  }

  /** True once the client has ignored a full window's worth of refusals. */
  get exhausted(): boolean {
    return this.refusedInARow > this.rule.points;
  }

  release(): Promise<void> {
    return this.local.reset(this.rule, this.key);
  }

  private refuse(why: 'busy' | 'rate'): 'busy' | 'rate' {
    this.refusedInARow++;
    return why;
  }
}
