import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { Logger } from 'pino';
import type { AdminRepo, NodeStatRow } from '../../infra/db/repos/admin.repo.js';
import { DELIVERY_LATENCY_BUCKETS_S, type Metrics } from '../../observability/metrics.js';

export const BUCKET_MS = 10_000;
/** A node whose last write is older than this is gone (crashed or stopped) and no longer counted. */
const NODE_STALE_MS = 15_000;
const KEEP_MS = 3_600_000;

interface Totals {
  sent: number;
  /** Cumulative counts per latency bucket (le), +Inf last. */
  latency: number[];
}

/**
 * Each node samples its own Prometheus metrics every ADMIN_STATS_INTERVAL_MS and upserts the
 * current 10-second bucket into node_stats: messages accepted in the bucket, sockets open now, and
 * the bucket's delivery-latency histogram counts. Nothing is added to the message path: the
 * counters already exist for /metrics. The dashboard sums the rows of live nodes, so every node
 * shows the figures of the whole deployment.
 */
export class NodeStatsSampler {
  readonly nodeId = `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;
  private timer: NodeJS.Timeout | undefined;
  private bucketAt = 0;
  private base: Totals = { sent: 0, latency: [] };
  private lastTotals: Totals = { sent: 0, latency: [] };
  private running: Promise<void> | undefined;
  private lastPurge = 0;

  constructor(private readonly d: { repo: AdminRepo; metrics: Metrics; log: Logger; intervalMs: number }) {}

  start(): void {
    if (this.d.intervalMs <= 0 || this.timer) return;
    this.timer = setInterval(() => {
      this.running ??= this.sample()
        .catch((e: unknown) => this.d.log.debug({ err: String(e) }, 'node stats sample failed'))
        .finally(() => {
          this.running = undefined;
        });
    }, this.d.intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.running;
  }

  private async totals(): Promise<Totals & { messageSockets: number; callSockets: number }> {
    const m = this.d.metrics;
    const [sent, sockets, latency] = await Promise.all([
      m.messagesSent.get(),
      m.wsConnections.get(),
      m.deliveryLatency.get(),
    ]);
    const byEndpoint = (e: string) => sockets.values.find((v) => v.labels.endpoint === e)?.value ?? 0;
    const cumulative = [...DELIVERY_LATENCY_BUCKETS_S.map(String), '+Inf'].map(
      (le) => latency.values.find((v) => v.metricName?.endsWith('_bucket') && String(v.labels.le) === le)?.value ?? 0,
    );
    return {
      sent: sent.values[0]?.value ?? 0,
      latency: cumulative,
      messageSockets: byEndpoint('messages'),
      callSockets: byEndpoint('calls'),
    };
  }

  /** One sample: the current bucket's figures so far, relative to the totals when it began. */
  async sample(now = Date.now()): Promise<void> {
    const t = await this.totals();
    const bucketAt = Math.floor(now / BUCKET_MS) * BUCKET_MS;
    // A new bucket starts from the totals of the previous one's last sample; the counters start at
    // zero with the process, so the first bucket counts everything since start.
    if (bucketAt !== this.bucketAt) {
      this.base = this.lastTotals;
      this.bucketAt = bucketAt;
    }
    const base = this.base;
    const cumulative = t.latency.map((c, i) => c - (base.latency[i] ?? 0));
    await this.d.repo.writeNodeStat({
      nodeId: this.nodeId,
      bucketAt: new Date(bucketAt),
      messagesSent: Math.max(0, t.sent - base.sent),
      messageSockets: t.messageSockets,
      callSockets: t.callSockets,
      // Per-bucket (not cumulative) counts, so buckets of several nodes and minutes simply add up.
      latencyBuckets: cumulative.map((c, i) => Math.max(0, c - (i > 0 ? (cumulative[i - 1] ?? 0) : 0))),
    });
    this.lastTotals = { sent: t.sent, latency: t.latency };
    if (now - this.lastPurge > 300_000) {
      this.lastPurge = now;
      await this.d.repo.purgeNodeStats(new Date(now - KEEP_MS));
    }
  }
}

/** Like Prometheus' histogram_quantile: linear interpolation inside the bucket holding the rank. */
export function quantileMs(counts: number[], q: number): number | null {
  const total = counts.reduce((a, b) => a + b, 0);
  if (total === 0) return null;
  const rank = q * total;
  let seen = 0;
  for (let i = 0; i < counts.length; i++) {
    const c = counts[i] ?? 0;
    if (seen + c >= rank && c > 0) {
      const lower = i === 0 ? 0 : (DELIVERY_LATENCY_BUCKETS_S[i - 1] ?? 0);
      // The +Inf bucket has no upper bound: report its lower one (as Prometheus does).
      const upper = DELIVERY_LATENCY_BUCKETS_S[i];
      if (upper === undefined) return lower * 1000;
      return Math.round((lower + (upper - lower) * ((rank - seen) / c)) * 1000 * 10) / 10;
    }
    seen += c;
  }
  return null;
}

const addInto = (into: number[], from: number[]) => {
  from.forEach((v, i) => {
    into[i] = (into[i] ?? 0) + v;
  });
};

export interface LiveFigures {
  sockets: { messages: number; calls: number };
  messagesPerSecond: number;
  deliveryMs: { p50: number | null; p99: number | null };
  nodes: { id: string; messageSockets: number; callSockets: number; messagesPerSecond: number; seenAt: string }[];
  series: {
    at: string;
    messagesPerSecond: number;
    deliveryP99Ms: number | null;
    messageSockets: number;
    callSockets: number;
  }[];
}

const round1 = (n: number) => Math.round(n * 10) / 10;

/** Sums the rows of the last `windowMs` (every node) into the dashboard's live figures and series. */
export function summarize(rows: NodeStatRow[], now: number, windowMs = 600_000): LiveFigures {
  const current = Math.floor(now / BUCKET_MS) * BUCKET_MS;
  const elapsedS = Math.max(1, (now - current) / 1000);
  const first = current - windowMs + BUCKET_MS;
  const buckets = new Map<number, { sent: number; latency: number[]; ms: number; cs: number }>();
  for (let at = first; at <= current; at += BUCKET_MS) buckets.set(at, { sent: 0, latency: [], ms: 0, cs: 0 });
  const latest = new Map<string, NodeStatRow>();
  for (const r of rows) {
    const b = buckets.get(r.bucketAt.getTime());
    if (b) {
      b.sent += r.messagesSent;
      addInto(b.latency, r.latencyBuckets);
      b.ms += r.messageSockets;
      b.cs += r.callSockets;
    }
    const prev = latest.get(r.nodeId);
    if (!prev || prev.bucketAt < r.bucketAt) latest.set(r.nodeId, r);
  }
  const live = [...latest.values()].filter((r) => now - r.updatedAt.getTime() < NODE_STALE_MS);
  const rate = (at: number, sent: number) => sent / (at === current ? elapsedS : BUCKET_MS / 1000);
  // "Now" spans the bucket in progress and the one before it, so the figure never drops to zero
  // just because a bucket has only begun.
  const cur = buckets.get(current);
  const prev = buckets.get(current - BUCKET_MS);
  const messagesPerSecond = ((cur?.sent ?? 0) + (prev?.sent ?? 0)) / (elapsedS + (prev ? BUCKET_MS / 1000 : 0));
  const lastMinute: number[] = [];
  for (let at = current - 5 * BUCKET_MS; at <= current; at += BUCKET_MS)
    addInto(lastMinute, buckets.get(at)?.latency ?? []);
  const prevOf = (nodeId: string) =>
    rows.find((r) => r.nodeId === nodeId && r.bucketAt.getTime() === current - BUCKET_MS)?.messagesSent ?? 0;
  return {
    sockets: {
      messages: live.reduce((a, r) => a + r.messageSockets, 0),
      calls: live.reduce((a, r) => a + r.callSockets, 0),
    },
    messagesPerSecond: round1(messagesPerSecond),
    deliveryMs: { p50: quantileMs(lastMinute, 0.5), p99: quantileMs(lastMinute, 0.99) },
    nodes: live.map((r) => ({
      id: r.nodeId,
      messageSockets: r.messageSockets,
      callSockets: r.callSockets,
      messagesPerSecond: round1(
        ((r.bucketAt.getTime() === current ? r.messagesSent : 0) + prevOf(r.nodeId)) / (elapsedS + BUCKET_MS / 1000),
      ),
      seenAt: r.updatedAt.toISOString(),
    })),
    series: [...buckets.entries()].map(([at, b]) => ({
      at: new Date(at).toISOString(),
      messagesPerSecond: round1(rate(at, b.sent)),
      deliveryP99Ms: quantileMs(b.latency, 0.99),
      messageSockets: b.ms,
      callSockets: b.cs,
    })),
  };
}
