import { describe, expect, it } from 'vitest';
import type { NodeStatRow } from '../../src/infra/db/repos/admin.repo.js';
import { BUCKET_MS, quantileMs, summarize } from '../../src/services/admin/node-stats.js';

// Buckets of message_delivery_latency_seconds: 5, 10, 25, 50, 100, 250, 500 ms, 1, 5, 30, 300, 3600 s, +Inf.
const counts = (byIndex: Record<number, number>) => Array.from({ length: 13 }, (_, i) => byIndex[i] ?? 0);

describe('dashboard figures from node_stats', () => {
  it('quantiles interpolate inside the bucket holding the rank, like histogram_quantile', () => {
    expect(quantileMs(counts({}), 0.5)).toBeNull();
    // 100 deliveries all in (10 ms, 25 ms]: the median is halfway through that bucket.
    expect(quantileMs(counts({ 2: 100 }), 0.5)).toBe(17.5);
    // 99 fast (≤ 5 ms) and 1 in (250 ms, 500 ms]: p50 inside the first bucket, p99 at its top.
    expect(quantileMs(counts({ 0: 99, 6: 1 }), 0.5)).toBeCloseTo(2.5, 1);
    expect(quantileMs(counts({ 0: 99, 6: 1 }), 0.99)).toBe(5);
    expect(quantileMs(counts({ 0: 98, 6: 2 }), 0.99)).toBe(375);
    // Beyond the last bound there is no upper edge: its lower one is reported.
    expect(quantileMs(counts({ 12: 3 }), 0.5)).toBe(3_600_000);
  });

  it('sums live nodes, drops stale ones from the live figures, and fills a 10-minute series', () => {
    const now = Date.UTC(2026, 11, 4, 12, 0, 5_000 / 1000); // 5 s into a bucket
    const current = Math.floor(now / BUCKET_MS) * BUCKET_MS;
    const row = (nodeId: string, at: number, sent: number, sockets: number, seenAgoMs: number): NodeStatRow => ({
      nodeId,
      bucketAt: new Date(at),
      messagesSent: sent,
      messageSockets: sockets,
      callSockets: 1,
      latencyBuckets: counts({ 2: sent }),
      updatedAt: new Date(now - seenAgoMs),
    });
    const rows = [
      row('a', current - BUCKET_MS, 100, 3, 6_000),
      row('a', current, 50, 4, 1_000),
      row('b', current, 25, 2, 2_000),
      // A node that stopped reporting a minute ago: its old bucket stays in the series, not in "now".
      row('gone', current - 6 * BUCKET_MS, 40, 9, 60_000),
    ];
    const s = summarize(rows, now);
    expect(s.sockets).toEqual({ messages: 6, calls: 2 });
    expect(s.nodes.map((n) => n.id).sort()).toEqual(['a', 'b']);
    // (100 + 50 + 25) messages over the previous bucket (10 s) and the 5 s of this one.
    expect(s.messagesPerSecond).toBeCloseTo(175 / 15, 1);
    expect(s.series).toHaveLength(60);
    expect(s.series.at(-1)).toMatchObject({
      at: new Date(current).toISOString(),
      messagesPerSecond: 15,
      messageSockets: 6,
    });
    expect(s.series.at(-2)?.messagesPerSecond).toBe(10);
    expect(s.series.at(-7)?.messagesPerSecond).toBe(4);
    expect(s.deliveryMs.p50).toBe(17.5);
  });
});
