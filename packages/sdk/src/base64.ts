const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** Standard base64 with padding (the wire format of every binary value). */
export function b64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
}

/** Strict decoder: url-safe, unpadded or garbage input is an error, as it is on the server. */
export function fromB64(s: string): Uint8Array<ArrayBuffer> {
  if (typeof s !== 'string' || !BASE64.test(s))
    throw new Error(`not standard padded base64: ${String(s).slice(0, 40)}`);
  return new Uint8Array(Buffer.from(s, 'base64'));
}
