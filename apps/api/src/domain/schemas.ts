import { z } from 'zod';

/** Standard base64 with padding (RFC 4648 §4); anything else is rejected, never repaired. */
export const base64 = z
  .string()
  .max(4 * 1024 * 1024)
  .regex(/^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/, 'must be standard base64 with padding');

export const uuid = z.uuid({ message: 'must be a UUID' });
export const deviceId = z.coerce.number().int().min(1).max(2_147_483_647);
