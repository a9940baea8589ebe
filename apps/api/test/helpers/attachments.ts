import type { ApiResponse, Client } from './api.js';

export interface CreatedAttachment {
  attachmentId: string;
  uploadUrl: string;
  uploadMethod: 'PUT';
  uploadHeaders: Record<string, string>;
  expiresAt: string;
}

/** Resolves a disk-backend path (no PUBLIC_URL) against the server; S3 URLs are absolute already. */
export const absolute = (serverUrl: string, url: string) => new URL(url, serverUrl).toString();

export async function createAttachment(
  api: Client,
  token: string,
  size: number,
  contentType = 'application/octet-stream',
): Promise<CreatedAttachment> {
  const r = await api.post('/attachments', { size, contentType }, { token });
  if (r.status !== 201) throw new Error(`create: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body as CreatedAttachment;
}

export async function putBlob(serverUrl: string, created: CreatedAttachment, bytes: Uint8Array): Promise<Response> {
  return fetch(absolute(serverUrl, created.uploadUrl), {
    method: 'PUT',
    headers: created.uploadHeaders,
    body: bytes,
  });
}

/** create → PUT → complete: a completed attachment of `bytes`. */
export async function uploadAttachment(
  api: Client,
  serverUrl: string,
  token: string,
  bytes: Uint8Array,
  contentType?: string,
): Promise<{ created: CreatedAttachment; complete: ApiResponse }> {
  const created = await createAttachment(api, token, bytes.byteLength, contentType);
  const put = await putBlob(serverUrl, created, bytes);
  if (put.status >= 300) throw new Error(`upload: ${put.status} ${await put.text()}`);
  const complete = await api.post(`/attachments/${created.attachmentId}/complete`, undefined, { token });
  return { created, complete };
}
