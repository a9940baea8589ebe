/** The storage backends the attachment suite runs on; each starts and stops what it needs. */
export interface AttachmentBackend {
  name: 'disk' | 's3';
  start(): Promise<void>;
  env(): Record<string, string>;
  stop(): Promise<void>;
}

export function attachmentBackends(): AttachmentBackend[] {
  return [{ name: 'disk', start: async () => {}, env: () => ({}), stop: async () => {} }];
}
