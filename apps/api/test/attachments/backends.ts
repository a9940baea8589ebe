import { randomBytes } from 'node:crypto';
import { inject } from 'vitest';
import { type CephRgw, startCephRgw } from '../helpers/ceph-rgw.js';

/** The storage backends the attachment suites run on; each starts and stops what it needs. */
export interface AttachmentBackend {
  name: 'disk' | 's3';
  start(): Promise<void>;
  env(): Record<string, string>;
  stop(): Promise<void>;
}

const disk: AttachmentBackend = { name: 'disk', start: async () => {}, env: () => ({}), stop: async () => {} };

/** S3 for real: the test run's one-node Ceph RADOS gateway; each suite has its own bucket (the server's to create). */
function cephS3(): AttachmentBackend {
  let rgw: CephRgw | undefined;
  const bucket = `snaptalker-test-${randomBytes(4).toString('hex')}`;
  return {
    name: 's3',
    async start() {
      rgw = await startCephRgw(inject('runDir'));
    },
    env() {
      if (!rgw) throw new Error('Ceph RGW not started');
      return {
        S3_ENDPOINT: rgw.endpoint,
        S3_ACCESS_KEY: rgw.accessKey,
        S3_SECRET_KEY: rgw.secretKey,
        S3_BUCKET: bucket,
        S3_REGION: 'us-east-1',
      };
    },
    async stop() {
      await rgw?.stop();
    },
  };
}

export function attachmentBackends(): AttachmentBackend[] {
  return [disk, cephS3()];
}
