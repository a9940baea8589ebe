import type { TRPCRouterRecord } from '@trpc/server';
import { z } from 'zod';
import { LoginInput, RefreshInput, RegisterInput, VerifyInput } from '../../../services/accounts/accounts.schemas.js';
import { deviceProcedure, publicProcedure } from '../trpc.js';

export const authRouter = {
  register: publicProcedure
    .input(RegisterInput)
    .mutation(({ ctx, input }) => ctx.services.accounts.register({ ip: ctx.ip }, input)),
  verify: publicProcedure
    .input(VerifyInput)
    .mutation(({ ctx, input }) => ctx.services.accounts.verify({ ip: ctx.ip }, input)),
  login: publicProcedure
    .input(LoginInput)
    .mutation(({ ctx, input }) => ctx.services.accounts.login({ ip: ctx.ip }, input)),
  refresh: publicProcedure.input(RefreshInput).mutation(({ ctx, input }) => ctx.services.accounts.refresh(input)),
  logout: deviceProcedure.mutation(({ ctx }) => ctx.services.accounts.logout(ctx.actor)),
  me: deviceProcedure.query(({ ctx }) => ctx.services.accounts.me(ctx.actor)),
  unlinkDevice: deviceProcedure
    .input(z.strictObject({ deviceId: z.number().int().min(1) }))
    .mutation(({ ctx, input }) => ctx.services.accounts.unlinkDevice(ctx.actor, input.deviceId)),
} satisfies TRPCRouterRecord;
