import { z } from 'zod';
import { timestamp } from '../../domain/schemas.js';

/** 128 random bits, base64url without padding (22 characters): unguessable, and a safe object key. */
export const attachmentId = z.string().regex(/^[A-Za-z0-9_-]{22}$/, 'must be an attachment id');

/** A MIME type (type/subtype, optional parameters), as the client names its plaintext. */
const contentType = z
  .string()
  .max(255)
  .regex(
    /^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*\/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*(?:\s*;[\x20-\x7e]*)?$/,
    'must be a MIME type',
  );

export const CreateAttachmentInput = z.strictObject({
  size: z.number().int().min(1).max(Number.MAX_SAFE_INTEGER),
  contentType: contentType.optional(),
});
export type CreateAttachmentInput = z.infer<typeof CreateAttachmentInput>;

export const AttachmentParams = z.strictObject({ id: attachmentId });

/** The signed query of the disk backend's blob route. */
export const BlobQuery = z.strictObject({
  expires: z.string().max(16),
  signature: z.string().max(64),
});

export const CreateAttachmentReply = z.object({
  attachmentId,
  uploadUrl: z.string().meta({ description: 'absolute, or (disk backend without PUBLIC_URL) a path on this API' }),
  uploadMethod: z.literal('PUT'),
  uploadHeaders: z.record(z.string(), z.string()),
  expiresAt: timestamp.meta({ description: 'when the upload URL stops working (at most 15 minutes)' }),
});
export type CreateAttachmentReply = z.infer<typeof CreateAttachmentReply>;

export const CompleteAttachmentReply = z.object({ attachmentId, size: z.number().int().min(1) });
export type CompleteAttachmentReply = z.infer<typeof CompleteAttachmentReply>;

export const AttachmentReply = z.object({
  attachmentId,
  size: z.number().int().min(1),
  contentType: z.string(),
  downloadUrl: z.string().meta({ description: 'absolute, or (disk backend without PUBLIC_URL) a path on this API' }),
  expiresAt: timestamp.meta({ description: 'when the download URL stops working' }),
});
export type AttachmentReply = z.infer<typeof AttachmentReply>;
