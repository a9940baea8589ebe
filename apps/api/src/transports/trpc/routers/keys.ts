import type { TRPCRouterRecord } from '@trpc/server';
import { z } from 'zod';
import { BundleParams, keyId, SignedPreKey, UploadKeysInput } from '../../../services/keys/keys.schemas.js';
import { deviceProcedure } from '../trpc.js';

export const keysRouter = {
  upload: deviceProcedure
    .input(UploadKeysInput)
    .mutation(({ ctx, input }) => ctx.services.keys.upload(ctx.actor, input)),
  bundle: deviceProcedure
    .input(BundleParams.extend({ deviceId: z.number().int().min(1).optional() }))
    .query(({ ctx, input }) => ctx.services.keys.bundle(ctx.actor, input.userId, input.deviceId)),
  rotateSignedPreKey: deviceProcedure
    .input(SignedPreKey)
    .mutation(({ ctx, input }) => ctx.services.keys.rotateSignedPreKey(ctx.actor, input)),
  markUsed: deviceProcedure
    .input(z.strictObject({ keyId }))
    .mutation(({ ctx, input }) => ctx.services.keys.markUsed(ctx.actor, input.keyId)),
  count: deviceProcedure.query(({ ctx }) => ctx.services.keys.counts(ctx.actor)),
} satisfies TRPCRouterRecord;
