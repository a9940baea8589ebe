import { z } from 'zod';

export const username = z.string().regex(/^[a-zA-Z0-9_]{3,32}$/, 'must be 3-32 letters, digits or _');
export const phone = z.string().regex(/^\+[1-9][0-9]{6,14}$/, 'must be E.164, e.g. +15551234567');
export const password = z.string().min(8, 'must be at least 8 characters').max(128, 'must be at most 128 characters');
const deviceName = z.string().trim().min(1).max(64).optional();

export const RegisterInput = z.strictObject({ username, phone, password });
export const VerifyInput = z.strictObject({
  phone,
  code: z.string().regex(/^[0-9]{6}$/, 'must be 6 digits'),
  deviceName,
});
export const LoginInput = z.strictObject({ login: z.string().min(1).max(32), password, deviceName });
export const RefreshInput = z.strictObject({ refreshToken: z.string().min(1).max(256) });

export type RegisterInput = z.infer<typeof RegisterInput>;
export type VerifyInput = z.infer<typeof VerifyInput>;
export type LoginInput = z.infer<typeof LoginInput>;
export type RefreshInput = z.infer<typeof RefreshInput>;

export interface Session {
  userId: string;
  deviceId: number;
  accessToken: string;
  refreshToken: string;
  expiresIn: number;
}
