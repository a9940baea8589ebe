import type { TRPCRouterRecord } from '@trpc/server';
import {
  auditListInput,
  createAdminInput,
  loginInput,
  pageInput,
  refreshInput,
  setDisabledInput,
  setRoleInput,
  unlinkDeviceInput,
  userIdInput,
  userSearchInput,
} from '../../../services/admin/admin.schemas.js';
import { adminProcedure, publicProcedure, router } from '../trpc.js';

/**
 * The admin console's only way in (API.md "Admin"): thin adapters over AdminAuthService and
 * AdminService, which check the role of every call. Consumed by apps/admin's server side.
 */
export const adminRouter = router({
  auth: router({
    login: publicProcedure
      .input(loginInput)
      .mutation(({ ctx, input }) => ctx.services.adminAuth.login({ ip: ctx.ip }, input)),
    refresh: publicProcedure
      .input(refreshInput)
      .mutation(({ ctx, input }) => ctx.services.adminAuth.refresh({ ip: ctx.ip }, input.refreshToken)),
    logout: adminProcedure.mutation(async ({ ctx }) => {
      await ctx.services.adminAuth.logout(ctx.admin);
      return { ok: true as const };
    }),
  } satisfies TRPCRouterRecord),
  me: adminProcedure.query(({ ctx }) => ctx.services.admin.me(ctx.admin)),
  dashboard: adminProcedure.query(({ ctx }) => ctx.services.admin.dashboard(ctx.admin)),
  users: router({
    search: adminProcedure
      .input(userSearchInput)
      .query(({ ctx, input }) => ctx.services.admin.searchUsers(ctx.admin, input)),
    get: adminProcedure
      .input(userIdInput)
      .query(({ ctx, input }) => ctx.services.admin.getUser(ctx.admin, input.userId)),
    revealPhone: adminProcedure
      .input(userIdInput)
      .mutation(({ ctx, input }) => ctx.services.admin.revealPhone(ctx.admin, input.userId)),
    ban: adminProcedure
      .input(userIdInput)
      .mutation(({ ctx, input }) => ctx.services.admin.setBanned(ctx.admin, input.userId, true)),
    unban: adminProcedure
      .input(userIdInput)
      .mutation(({ ctx, input }) => ctx.services.admin.setBanned(ctx.admin, input.userId, false)),
    revokeSessions: adminProcedure
      .input(userIdInput)
      .mutation(({ ctx, input }) => ctx.services.admin.revokeSessions(ctx.admin, input.userId)),
    unlinkDevice: adminProcedure
      .input(unlinkDeviceInput)
      .mutation(({ ctx, input }) => ctx.services.admin.unlinkDevice(ctx.admin, input.userId, input.deviceId)),
  } satisfies TRPCRouterRecord),
  keys: router({
    low: adminProcedure.input(pageInput).query(({ ctx, input }) => ctx.services.admin.lowKeys(ctx.admin, input)),
    identityChanges: adminProcedure
      .input(pageInput)
      .query(({ ctx, input }) => ctx.services.admin.identityChanges(ctx.admin, input)),
  } satisfies TRPCRouterRecord),
  calls: router({
    active: adminProcedure.query(({ ctx }) => ctx.services.admin.activeCalls(ctx.admin)),
    recent: adminProcedure.input(pageInput).query(({ ctx, input }) => ctx.services.admin.recentCalls(ctx.admin, input)),
  } satisfies TRPCRouterRecord),
  audit: router({
    list: adminProcedure
      .input(auditListInput)
      .query(({ ctx, input }) => ctx.services.admin.auditList(ctx.admin, input)),
  } satisfies TRPCRouterRecord),
  admins: router({
    list: adminProcedure.query(({ ctx }) => ctx.services.admin.listAdmins(ctx.admin)),
    create: adminProcedure
      .input(createAdminInput)
      .mutation(({ ctx, input }) => ctx.services.admin.createAdmin(ctx.admin, input)),
    setRole: adminProcedure
      .input(setRoleInput)
      .mutation(({ ctx, input }) => ctx.services.admin.setRole(ctx.admin, input.adminId, input.role)),
    setDisabled: adminProcedure
      .input(setDisabledInput)
      .mutation(({ ctx, input }) => ctx.services.admin.setDisabled(ctx.admin, input.adminId, input.disabled)),
  } satisfies TRPCRouterRecord),
});
