import type { RawData } from 'ws';

const POINT_BYTES = 4096;

/** A frame's size in bytes, whatever form `ws` delivered it in. */
export function frameBytes(data: RawData): number {
  return Array.isArray(data)
    ? data.reduce((n, b) => n + b.length, 0)
    : data instanceof ArrayBuffer
      ? data.byteLength
      : data.length;
}

/**
 * A frame's weight in its socket's budget: one point per started 4 KiB. Size is what a frame can
 * make the server do (ids to acknowledge, envelopes to store) and is known before parsing.
 */
export function frameWeight(data: RawData): number {
  return Math.max(1, Math.ceil(frameBytes(data) / POINT_BYTES));
}
