import { randomBytes } from 'node:crypto';
import type { Readable } from 'node:stream';
import type { Logger } from 'pino';
import type { Config } from '../../config/index.js';
import type { Actor } from '../../domain/actor.js';
import { AppError } from '../../domain/errors.js';
import { type BlobStore, BlobTooLargeError, type ByteRange } from '../../infra/blob/blob-store.js';
import type { BlobUrlSigner } from '../../infra/blob/url-signer.js';
import type { AttachmentRow, AttachmentsRepo } from '../../infra/db/repos/attachments.repo.js';
import type { Metrics } from '../../observability/metrics.js';
import { type Limits, rateLimited } from '../rate-limits.js';
import type {
  AttachmentReply,
  CompleteAttachmentReply,
  CreateAttachmentInput,
  CreateAttachmentReply,
} from './attachments.schemas.js';

export interface AttachmentsDeps {
  config: Config;
  repo: AttachmentsRepo;
  blobs: BlobStore;
  /** Signs and checks the API-served blob URLs (disk backend); null when storage presigns (S3). */
  urls: BlobUrlSigner | null;
  limits: Limits;
  metrics: Metrics;
  log: Logger;
}

/** The object key of an attachment: its id is random, so keys never collide or reveal anything. */
export const blobKey = (id: string) => `attachments/${id}`;

/** Stored objects are ciphertext: whatever the plaintext is, they are opaque bytes. */
const CIPHERTEXT_TYPE = 'application/octet-stream';

export interface BlobDownload {
  stream: Readable;
  /** Size of the whole object. */
  size: number;
  /** The range sent, when the request asked for a satisfiable one. */
  range: ByteRange | null;
}

/**
 * Attachments: the server hands out time-limited upload and download URLs for client-encrypted
 * blobs and keeps one row per blob (who uploaded it, its declared size, its state). With S3 the
 * bytes never pass through the API; with the disk backend the API's own blob route serves them.
 */
export class AttachmentsService {
  private readonly createRule;

  constructor(private readonly d: AttachmentsDeps) {
    this.createRule = { name: 'attachments-user', ...d.config.RATE_LIMIT_ATTACHMENTS_USER };
  }

  async create(actor: Actor, input: CreateAttachmentInput): Promise<CreateAttachmentReply> {
    const max = this.d.config.ATTACHMENT_MAX_BYTES;
    if (input.size > max) {
      throw new AppError('PAYLOAD_TOO_LARGE', `size: at most ${max} bytes`, { maxBytes: max });
    }
    await this.d.limits.consume(this.createRule, actor.userId);
    const id = randomBytes(16).toString('base64url');
    const now = new Date();
    const created = await this.d.repo.createWithinQuota(
      {
        id,
        uploaderId: actor.userId,
        size: input.size,
        contentType: input.contentType ?? 'application/octet-stream',
        createdAt: now,
        expiresAt: new Date(now.getTime() + this.d.config.ATTACHMENT_UPLOAD_TTL_S * 1000),
      },
      this.d.config.ATTACHMENT_QUOTA_BYTES_PER_DAY,
    );
    if (!created.created) {
      this.d.metrics.attachmentUploads.inc({ outcome: 'quota_exceeded' });
      throw rateLimited(Math.max(1, Math.ceil((created.freesAt.getTime() - now.getTime()) / 1000)));
    }
    const put = await this.d.blobs.presignPut(blobKey(id), {
      contentType: CIPHERTEXT_TYPE,
      expiresInS: this.d.config.ATTACHMENT_URL_TTL_S,
    });
    return {
      attachmentId: id,
      uploadUrl: put.url,
      uploadMethod: 'PUT',
      uploadHeaders: put.headers,
      expiresAt: put.expiresAt.toISOString(),
    };
  }

  async complete(actor: Actor, id: string): Promise<CompleteAttachmentReply> {
    const row = await this.d.repo.find(id);
    const now = new Date();
    // Someone else's upload is as invisible as a missing one: only the uploader completes.
    if (!row || row.uploaderId !== actor.userId || row.state === 'deleted') {
      throw new AppError('NOT_FOUND', 'no such attachment');
    }
    if (row.state === 'complete') return { attachmentId: id, size: row.size };
    if (row.expiresAt <= now) throw new AppError('NOT_FOUND', 'the upload window of this attachment has passed');
    const info = await this.d.blobs.stat(blobKey(id));
    if (!info) {
      this.d.metrics.attachmentUploads.inc({ outcome: 'missing' });
      throw new AppError('VALIDATION_FAILED', 'nothing was uploaded for this attachment', { declaredSize: row.size });
    }
    if (info.size !== row.size) {
      // The object goes; the attachment stays pending, so the client may upload again while its URL lasts.
      await this.d.blobs.delete(blobKey(id));
      this.d.metrics.attachmentUploads.inc({ outcome: 'size_mismatch' });
      throw new AppError('VALIDATION_FAILED', `the uploaded object has ${info.size} bytes, ${row.size} were declared`, {
        declaredSize: row.size,
        uploadedSize: info.size,
      });
    }
    const expiresAt = new Date(now.getTime() + this.d.config.ATTACHMENT_TTL_DAYS * 86_400_000);
    if (!(await this.d.repo.markComplete(id, now, expiresAt))) {
      const again = await this.d.repo.find(id);
      if (again?.state === 'complete') return { attachmentId: id, size: row.size };
      throw new AppError('NOT_FOUND', 'no such attachment');
    }
    this.d.metrics.attachmentUploads.inc({ outcome: 'complete' });
    this.d.metrics.attachmentBytesUploaded.inc(row.size);
    return { attachmentId: id, size: row.size };
  }

  /** Any authenticated user who knows the id may download it: the id is the capability. */
  async get(_actor: Actor, id: string): Promise<AttachmentReply> {
    const row = await this.live(id);
    const remainingS = Math.floor((row.expiresAt.getTime() - Date.now()) / 1000);
    const url = await this.d.blobs.presignGet(blobKey(id), {
      expiresInS: Math.max(1, Math.min(this.d.config.ATTACHMENT_URL_TTL_S, remainingS)),
    });
    return {
      attachmentId: id,
      size: row.size,
      contentType: row.contentType,
      downloadUrl: url.url,
      expiresAt: url.expiresAt.toISOString(),
    };
  }

  /** The uploader deletes (204); anyone else who knows a live id gets 403, an unknown or gone id 404. */
  async delete(actor: Actor, id: string): Promise<void> {
    const row = await this.d.repo.find(id);
    if (!row || row.state === 'deleted') throw new AppError('NOT_FOUND', 'no such attachment');
    if (row.uploaderId !== actor.userId) throw new AppError('FORBIDDEN', 'only the uploader may delete an attachment');
    if (!(await this.d.repo.markDeleted(id))) throw new AppError('NOT_FOUND', 'no such attachment');
    // Marked first, then removed: a reader never gets a URL to an object that is going away.
    await this.d.blobs.delete(blobKey(id));
  }

  /**
   * The disk backend's upload route: a signed PUT of at most the declared size, streamed to disk.
   * The declared length is checked before a byte is read; a body running past it is 413.
   */
  async receiveBlob(
    id: string,
    signature: { expires: string; signature: string },
    body: Readable,
    contentLength: number | undefined,
  ): Promise<void> {
    this.checkSignature('PUT', id, signature);
    const row = await this.d.repo.find(id);
    if (!row || row.state === 'deleted' || row.expiresAt <= new Date()) {
      throw new AppError('NOT_FOUND', 'no such attachment');
    }
    if (row.state === 'complete') throw new AppError('CONFLICT', 'this attachment is already complete');
    if (contentLength !== undefined && contentLength > row.size) {
      this.d.metrics.attachmentUploads.inc({ outcome: 'too_large' });
      throw new AppError('PAYLOAD_TOO_LARGE', `at most ${row.size} bytes were declared`, { declaredSize: row.size });
    }
    try {
      await this.d.blobs.putStream(blobKey(id), body, { maxBytes: row.size, contentType: CIPHERTEXT_TYPE });
    } catch (e) {
      if (e instanceof BlobTooLargeError) {
        this.d.metrics.attachmentUploads.inc({ outcome: 'too_large' });
        throw new AppError('PAYLOAD_TOO_LARGE', `at most ${row.size} bytes were declared`, { declaredSize: row.size });
      }
      throw e;
    }
  }

  /** The disk backend's download route: a signed GET, optionally of one byte range. */
  async openBlob(
    id: string,
    signature: { expires: string; signature: string },
    rangeHeader: string | undefined,
  ): Promise<BlobDownload> {
    this.checkSignature('GET', id, signature);
    const row = await this.live(id);
    const range = rangeHeader === undefined ? null : parseRange(rangeHeader, row.size);
    if (range === 'unsatisfiable') {
      throw new AppError('RANGE_NOT_SATISFIABLE', `the range lies outside the ${row.size} bytes`, { size: row.size });
    }
    const blob = await this.d.blobs.getStream(blobKey(id), range ?? undefined);
    if (!blob) throw new AppError('NOT_FOUND', 'no such attachment');
    return { stream: blob.stream, size: blob.size, range };
  }

  private checkSignature(method: 'GET' | 'PUT', id: string, q: { expires: string; signature: string }): void {
    if (!this.d.urls) throw new AppError('NOT_FOUND', 'attachments are served by object storage');
    const check = this.d.urls.verify(method, blobKey(id), q.expires, q.signature);
    if (check === 'invalid') throw new AppError('FORBIDDEN', 'bad signature');
    if (check === 'expired') throw new AppError('FORBIDDEN', 'this URL has expired');
  }

  /** A completed attachment still within its retention, else the same 404 for every other case. */
  private async live(id: string): Promise<AttachmentRow> {
    const row = await this.d.repo.find(id);
    if (row?.state !== 'complete' || row.expiresAt <= new Date()) {
      throw new AppError('NOT_FOUND', 'no such attachment');
    }
    return row;
  }

  /**
   * Cleanup, safe on every node at once: never-completed uploads past ATTACHMENT_UPLOAD_TTL_S and
   * completed ones past ATTACHMENT_TTL_DAYS are claimed (marked deleted, SKIP LOCKED) in bounded
   * batches, then their objects are deleted. Deleted rows are forgotten once out of the quota window.
   */
  async cleanup(now = new Date(), batch = 500): Promise<{ abandoned: number; expired: number; forgotten: number }> {
    const total = { abandoned: 0, expired: 0, forgotten: 0 };
    for (let round = 0; round < 1_000; round++) {
      const claimed = await this.d.repo.claimExpired(now, batch);
      await this.deleteObjects(claimed.map((c) => c.id));
      for (const c of claimed) {
        if (c.wasState === 'pending') total.abandoned++;
        else total.expired++;
      }
      if (claimed.length < batch) break;
    }
    this.d.metrics.attachmentUploads.inc({ outcome: 'abandoned' }, total.abandoned);
    for (let round = 0; round < 1_000; round++) {
      const gone = await this.d.repo.claimForgettable(now, batch);
      await this.deleteObjects(gone.map((g) => g.id));
      total.forgotten += gone.length;
      if (gone.length < batch) break;
    }
    return total;
  }

  private async deleteObjects(ids: string[]): Promise<void> {
    for (let i = 0; i < ids.length; i += 16) {
      await Promise.all(
        ids.slice(i, i + 16).map((id) =>
          this.d.blobs.delete(blobKey(id)).catch((e: unknown) => {
            this.d.log.warn({ err: String(e) }, 'attachment object delete failed (retried when its row is forgotten)');
          }),
        ),
      );
    }
  }
}

/**
 * One `bytes=` range (RFC 9110 §14.1.2): `a-b`, `a-` or `-n`. A header that is not a single byte
 * range is ignored (null: the whole blob, 200), as the RFC allows; a range starting past the end
 * is unsatisfiable (416).
 */
export function parseRange(header: string, size: number): ByteRange | null | 'unsatisfiable' {
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === '' && m[2] === '')) return null;
  if (m[1] === '') {
    const suffix = Number(m[2]);
    if (suffix === 0) return 'unsatisfiable';
    return { start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(m[1]);
  const end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  if (m[2] !== '' && Number(m[2]) < start) return null;
  if (start >= size) return 'unsatisfiable';
  return { start, end };
}
