import { z } from 'zod';

export const DependencyCheck = z.object({
  backend: z.string().meta({ description: 'e.g. postgres, pglite, redis, memory, s3, disk' }),
  ok: z.boolean(),
  error: z.string().optional().meta({ description: 'the failure kind only, never a connection string' }),
});
export const ReadinessChecks = z.object({
  database: DependencyCheck,
  redis: DependencyCheck,
  storage: DependencyCheck,
});

export const HealthReply = z.object({ status: z.literal('ok') });
export const ReadyReply = z.object({ status: z.literal('ok'), checks: ReadinessChecks });

export type DependencyCheck = z.infer<typeof DependencyCheck>;
export type ReadinessChecks = z.infer<typeof ReadinessChecks>;
