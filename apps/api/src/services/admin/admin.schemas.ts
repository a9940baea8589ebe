import { z } from 'zod';
import { ADMIN_ROLES } from '../../domain/admin.js';

// Inputs of the admin router, validated at the edge (tRPC) before any service call.

const email = z
  .string()
  .trim()
  .max(254)
  .pipe(z.email())
  .transform((v) => v.toLowerCase());
const password = z.string().min(1).max(256);
const uuid = z.uuid();
const cursor = z.string().min(1).max(200).optional();
const limit = z.number().int().min(1).max(100).default(25);

export const adminRole = z.enum(ADMIN_ROLES);
export const loginInput = z.object({ email, password });
export const refreshInput = z.object({ refreshToken: z.string().min(1).max(200) });
export const pageInput = z.object({ cursor, limit }).default({ limit: 25 });
export const userSearchInput = z
  .object({ q: z.string().trim().max(200).optional(), cursor, limit })
  .default({ limit: 25 });
export const userIdInput = z.object({ userId: uuid });
export const unlinkDeviceInput = z.object({ userId: uuid, deviceId: z.number().int().min(1).max(2_147_483_647) });
export const auditListInput = z
  .object({
    action: z.string().trim().min(1).max(64).optional(),
    actorId: z.string().trim().min(1).max(64).optional(),
    targetId: z.string().trim().min(1).max(64).optional(),
    cursor,
    limit,
  })
  .default({ limit: 25 });
export const createAdminInput = z.object({
  email,
  // Long enough to resist offline guessing if a hash ever leaks; argon2id does the rest.
  password: z.string().min(12).max(256),
  role: adminRole,
});
export const setRoleInput = z.object({ adminId: uuid, role: adminRole });
export const setDisabledInput = z.object({ adminId: uuid, disabled: z.boolean() });

export type LoginInput = z.infer<typeof loginInput>;
export type CreateAdminInput = z.infer<typeof createAdminInput>;
