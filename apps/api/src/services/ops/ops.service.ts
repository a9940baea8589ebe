import type { Infra } from '../../infra/index.js';
import type { DependencyCheck, ReadinessChecks } from './ops.schemas.js';

export type { DependencyCheck, ReadinessChecks };

/** Liveness and readiness of this node's dependencies, shared by REST /ready and gRPC health. */
export class OpsService {
  constructor(
    private readonly infra: Infra,
    private readonly timeoutMs: number,
  ) {}

  private async check(backend: string, probe: () => Promise<void>): Promise<DependencyCheck> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${this.timeoutMs} ms`)), this.timeoutMs);
    });
    try {
      await Promise.race([probe(), timeout]);
      return { backend, ok: true };
    } catch (e) {
      // The message names the failure kind only; connection strings stay out of responses.
      return { backend, ok: false, error: e instanceof Error ? e.message.split('\n')[0]?.slice(0, 200) : 'failed' };
    } finally {
      clearTimeout(timer);
    }
  }

  async readiness(): Promise<{ ok: boolean; checks: ReadinessChecks }> {
    const { db, blobs, pingRedis, kv } = this.infra;
    const [database, redis, storage] = await Promise.all([
      this.check(db.backend, () => db.ping()),
      this.check(kv.backend, pingRedis ?? (async () => {})),
      this.check(blobs.backend, () => blobs.ping()),
    ]);
    const checks = { database, redis, storage };
    return { ok: database.ok && redis.ok && storage.ok, checks };
  }
}
