import { Transform } from 'node:stream';
import { BlobTooLargeError } from './blob-store.js';

/** Passes bytes through and fails with BlobTooLargeError on the first byte beyond `maxBytes`. */
export function byteLimit(maxBytes: number): Transform & { readonly bytes: number } {
  let bytes = 0;
  const t = new Transform({
    transform(chunk: Buffer, _enc, done) {
      bytes += chunk.length;
      if (bytes > maxBytes) done(new BlobTooLargeError(maxBytes));
      else done(null, chunk);
    },
  });
  return Object.defineProperty(t, 'bytes', { get: () => bytes }) as Transform & { readonly bytes: number };
}
