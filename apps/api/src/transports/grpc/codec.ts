/**
 * Protobuf carries raw bytes where the JSON contract carries base64. Requests are turned into the
 * JSON shape so the REST zod schemas validate them unchanged; replies go the other way.
 */
export const toB64 = (bytes: Uint8Array): string => Buffer.from(bytes).toString('base64');
export const fromB64 = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'base64'));

export const optionalB64 = (bytes: Uint8Array | undefined) => (bytes === undefined ? undefined : toB64(bytes));
export const optionalBytes = (s: string | null | undefined) => (s == null ? undefined : fromB64(s));
