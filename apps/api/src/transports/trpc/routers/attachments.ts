import type { TRPCRouterRecord } from '@trpc/server';
import { z } from 'zod';
import { attachmentId, CreateAttachmentInput } from '../../../services/attachments/attachments.schemas.js';
import { deviceProcedure } from '../trpc.js';

const ById = z.strictObject({ id: attachmentId });

export const attachmentsRouter = {
  create: deviceProcedure
    .input(CreateAttachmentInput)
    .mutation(({ ctx, input }) => ctx.services.attachments.create(ctx.actor, input)),
  complete: deviceProcedure
    .input(ById)
    .mutation(({ ctx, input }) => ctx.services.attachments.complete(ctx.actor, input.id)),
  get: deviceProcedure.input(ById).query(({ ctx, input }) => ctx.services.attachments.get(ctx.actor, input.id)),
  delete: deviceProcedure
    .input(ById)
    .mutation(({ ctx, input }) => ctx.services.attachments.delete(ctx.actor, input.id)),
} satisfies TRPCRouterRecord;
