import type { Server } from '@grpc/grpc-js';
import { HealthImplementation } from 'grpc-health-check';
import type { Logger } from 'pino';
import type { Services } from '../../services/index.js';

const POLL_MS = 1_000;

/**
 * grpc.health.v1.Health for the whole server ("") and each of our services, all following
 * `ops.readiness()` (the checks behind REST /ready): a node that cannot reach its database says
 * NOT_SERVING, so a load balancer drains it. Polls one check at a time; the first answer is awaited
 * so the server never reports before it knows.
 */
export async function serveHealth(server: Server, services: Services, names: string[], log: Logger) {
  const health = new HealthImplementation();
  health.addToServer(server);
  let last: boolean | undefined;
  const refresh = async () => {
    const { ok } = await services.ops.readiness().catch(() => ({ ok: false }));
    // Only changes are set: grpc-health-check pushes every setStatus to Watch callers.
    if (ok === last) return;
    if (last !== undefined || !ok) log[ok ? 'info' : 'warn']({ serving: ok }, 'grpc health changed');
    last = ok;
    for (const name of ['', ...names]) health.setStatus(name, ok ? 'SERVING' : 'NOT_SERVING');
  };
  await refresh();

  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  const schedule = () => {
    timer = setTimeout(() => void refresh().finally(() => stopped || schedule()), POLL_MS);
    timer.unref();
  };
  schedule();
  return {
    stop() {
      stopped = true;
      clearTimeout(timer);
    },
  };
}
