import { z } from 'zod';
import { deviceIdOut, plainText, timestamp, uuid } from '../../domain/schemas.js';

export const username = z.string().regex(/^[a-zA-Z0-9_]{3,32}$/, 'must be 3-32 letters, digits or _');
export const phone = z.string().regex(/^\+[1-9][0-9]{6,14}$/, 'must be E.164, e.g. +15551234567');
export const password = z.string().min(8, 'must be at least 8 characters').max(128, 'must be at most 128 characters');
const deviceName = plainText().trim().min(1).max(64).optional();

export const RegisterInput = z.strictObject({ username, phone, password });
export const VerifyInput = z.strictObject({
  phone,
  code: z.string().regex(/^[0-9]{6}$/, 'must be 6 digits'),
  deviceName,
});
export const LoginInput = z.strictObject({ login: plainText().min(1).max(32), password, deviceName });
export const RefreshInput = z.strictObject({ refreshToken: z.string().min(1).max(256) });

export type RegisterInput = z.infer<typeof RegisterInput>;
export type VerifyInput = z.infer<typeof VerifyInput>;
export type LoginInput = z.infer<typeof LoginInput>;
export type RefreshInput = z.infer<typeof RefreshInput>;

// Replies (the REST response schemas; the OpenAPI document is generated from them).

export const RegisterReply = z.object({ userId: uuid, status: z.literal('pending_verification') });
export const SessionReply = z.object({
  userId: uuid,
  deviceId: deviceIdOut,
  accessToken: z.string().meta({ description: 'JWT; send as `Authorization: Bearer <accessToken>`' }),
  refreshToken: z.string().meta({ description: 'opaque, single use, rotates on every refresh' }),
  expiresIn: z.number().int().meta({ description: 'access token lifetime in seconds' }),
});
/** The verifying device is always device 1. */
export const VerifyReply = SessionReply.extend({ deviceId: z.literal(1) });
export const RefreshReply = SessionReply.omit({ userId: true, deviceId: true });
export const ProfileReply = z.object({
  userId: uuid,
  username: z.string(),
  phone: z.string(),
  devices: z.array(
    z.object({ deviceId: deviceIdOut, name: z.string().nullable(), createdAt: timestamp, lastSeenAt: timestamp }),
  ),
});

export type RegisterReply = z.infer<typeof RegisterReply>;
export type Session = z.infer<typeof SessionReply>;
export type RefreshReply = z.infer<typeof RefreshReply>;
export type Profile = z.infer<typeof ProfileReply>;
