import { AppError } from '../domain/errors.js';
import type { LimitRule, RateLimiter } from '../infra/ratelimit/rate-limiter.js';

interface Lease {
  left: number;
  expires: number;
  refused: boolean;
  pending?: Promise<void>;
}

/** The one helper every service uses to apply a limit, whatever transport the call came from. */
export class Limits {
  /** Points of per-message and per-claim limits taken from the shared counter in slices (see consumeLeased). */
  private readonly leases = new Map<string, Lease>();

  constructor(private readonly limiter: RateLimiter) {}

  /**
   * One point of this node's current slice, if it has one to spend: no promise and no round trip.
   * False changes nothing; the caller then goes through `consumeLeased`.
   */
  tryConsumeLeased(rule: LimitRule, key: string): boolean {
    const lease = this.leases.get(`${rule.name}:${key}`);
    if (!lease || lease.left <= 0 || lease.expires <= Date.now()) return false;
    lease.left--;
    return true;
  }

  /**
   * `consume` for a limit checked on every message or claim (the per-user send limit, the bundle
   * limits): instead of one Redis round trip per call, this node takes a slice of the budget (a
   * twentieth of the rule's points) from the shared counter and spends it locally. The limit still
   * holds across nodes — every point spent anywhere was taken from the one counter — at the price of
   * precision: a user may be refused up to one slice per node early, and an unspent slice lapses
   * with its window.
   */
  async consumeLeased(rule: LimitRule, key: string): Promise<void> {
    const id = `${rule.name}:${key}`;
    for (;;) {
      const now = Date.now();
      const lease = this.leases.get(id);
      if (lease && lease.expires > now) {
        if (lease.left > 0) {
          lease.left--;
          return;
        }
        if (lease.pending) {
          await lease.pending.catch(() => {});
          continue;
        }
        if (lease.refused) throw rateLimited(Math.max(1, Math.ceil((lease.expires - now) / 1000)));
      }
      const slice = Math.max(1, Math.floor(rule.points / 20));
      const next: Lease = { left: 0, expires: now + rule.durationS * 1000, refused: false };
      if (this.leases.size > 100_000) this.leases.clear();
      this.leases.set(id, next);
      next.pending = this.limiter.consume(rule, key, slice).then(
        (s) => {
          if (s.allowed) next.left = slice;
          else {
            // Refused until the shared window frees points; then a new slice may be taken.
            next.refused = true;
            next.expires = Date.now() + Math.max(1, s.retryAfterS) * 1000;
          }
        },
        (e: unknown) => {
          this.leases.delete(id);
          throw e;
        },
      );
      try {
        await next.pending;
      } finally {
        next.pending = undefined;
      }
    }
  }

  /** A fresh budget for one connection (see ConnectionBudget); `maxInFlight` is in points. */
  connection(rule: LimitRule, maxInFlight: number): ConnectionBudget {
    return new ConnectionBudget(rule, maxInFlight);
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
  private refusals = 0;
  private refusalWindowEnds = 0;
  /** The socket's own fixed window: plain counters, since nothing else ever reads them. */
  private used = 0;
  private windowEnds = 0;

  constructor(
    private readonly rule: LimitRule,
    private readonly maxInFlight: number,
  ) {}

  /**
   * `ok`: call `done(points)` when the frame's work ends. Otherwise the frame must be refused.
   * In-flight work is counted in points too, so one socket holds at most a few heavy frames (and
   * never more database connections than the pool can spare) at a time. Synchronous: admitting a
   * frame costs no promise, no timer and no round trip.
   */
  admit(points = 1): 'ok' | 'busy' | 'rate' {
    if (this.inFlight > 0 && this.inFlight + points > this.maxInFlight) return this.refuse('busy', points);
    const now = Date.now();
    if (now >= this.windowEnds) {
      this.used = 0;
      this.windowEnds = now + this.rule.durationS * 1000;
    }
    if (this.used + points > this.rule.points) {
      this.used += points;
      return this.refuse('rate', points);
    }
    this.used += points;
    this.inFlight += points;
    return 'ok';
  }

  done(points = 1): void {
    this.inFlight -= points;
  }

  /**
   * True once the client ignored refusals: more than a tenth of the window's points (at least 10)
   * refused within one window (heavy frames count their weight). A well-behaved client backs off
   * after the first ones.
   */
  get exhausted(): boolean {
    return this.refusals > Math.max(10, Math.ceil(this.rule.points / 10)) && Date.now() < this.refusalWindowEnds;
  }

  release(): Promise<void> {
    this.used = 0;
    return Promise.resolve();
  }

  private refuse(why: 'busy' | 'rate', points: number): 'busy' | 'rate' {
    const now = Date.now();
    if (now >= this.refusalWindowEnds) {
      this.refusals = 0;
      this.refusalWindowEnds = now + this.rule.durationS * 1000;
    }
    this.refusals += points;
    return why;
  }
}

/**
 * Open connections per key (a client IP) on this node. A socket is a resource held for hours, not
 * a request, so it is bounded by what is open now rather than by a rate; every node enforces its
 * own share (a balancer spreads one address over nodes, so the total is nodes × cap at most).
 */
export class ConnectionCap {
  private readonly open = new Map<string, number>();

  constructor(readonly max: number) {}

  /** Takes a slot for `key`, or refuses (false) when it already holds `max`. */
  take(key: string): boolean {
    const n = this.open.get(key) ?? 0;
    if (n >= this.max) return false;
    this.open.set(key, n + 1);
    return true;
  }

  release(key: string): void {
    const n = (this.open.get(key) ?? 1) - 1;
    if (n <= 0) this.open.delete(key);
    else this.open.set(key, n);
  }
}
