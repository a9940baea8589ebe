import type { Logger } from 'pino';
import type { Config } from '../config/index.js';
import type { Infra } from '../infra/index.js';
import type { Metrics } from '../observability/metrics.js';
import { OpsService } from './ops/ops.service.js';

export interface Services {
  ops: OpsService;
}

export interface ServiceDeps {
  config: Config;
  infra: Infra;
  log: Logger;
  metrics: Metrics;
}

/** The one service layer; every transport (REST, WS, tRPC, gRPC) receives this object and nothing below it. */
export async function buildServices(deps: ServiceDeps): Promise<Services> {
  return {
    ops: new OpsService(deps.infra, deps.config.READY_CHECK_TIMEOUT_MS),
  };
}
