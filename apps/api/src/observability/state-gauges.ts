import { Gauge } from 'prom-client';
import type { ReadinessChecks } from '../services/ops/ops.service.js';
import type { Metrics } from './metrics.js';

export interface StateSources {
  /** The /ready checks (database, redis, storage), each with its backend. */
  readiness(): Promise<{ checks: ReadinessChecks }>;
  /** Devices whose unused one-time EC prekeys are below the low watermark. */
  lowPrekeyDevices(): Promise<number>;
}

/** Scrapes from several Prometheus replicas within this window share one set of queries. */
const CACHE_MS = 5_000;

function cached<T>(load: () => Promise<T>): () => Promise<T> {
  let at = 0;
  let value: Promise<T> | undefined;
  return () => {
    if (!value || Date.now() - at > CACHE_MS) {
      at = Date.now();
      value = load();
      // A failure is not cached: the next scrape asks again.
      value.catch(() => {
        at = 0;
      });
    }
    return value;
  };
}

/**
 * Gauges over state the database and the dependencies hold, read at scrape time (so every node
 * reports the same cluster-wide value; alert rules take max() across instances).
 */
export function registerStateGauges(metrics: Metrics, sources: StateSources): void {
  const readiness = cached(() => sources.readiness());
  const lowPrekeys = cached(() => sources.lowPrekeyDevices());
  new Gauge({
    name: 'dependency_up',
    help: '1 when the dependency answers the readiness check, else 0',
    labelNames: ['dependency', 'backend'] as const,
    registers: [metrics.registry],
    async collect() {
      const { checks } = await readiness();
      this.reset();
      for (const [dependency, check] of Object.entries(checks)) {
        this.set({ dependency, backend: check.backend }, check.ok ? 1 : 0);
      }
    },
  });
  new Gauge({
    name: 'prekey_low_devices',
    help: 'Devices whose unused one-time EC prekeys are below PREKEY_LOW_WATERMARK',
    registers: [metrics.registry],
    async collect() {
      // Database down: keep the last value; dependency_up says why.
      const n = await lowPrekeys().catch(() => undefined);
      if (n !== undefined) this.set(n);
    },
  });
}
