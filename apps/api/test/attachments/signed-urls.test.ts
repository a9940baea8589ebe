import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { BlobUrlSigner } from '../../src/infra/blob/url-signer.js';
import { parseRange } from '../../src/services/attachments/attachments.service.js';

describe('signed blob URLs (disk backend)', () => {
  const signer = new BlobUrlSigner(randomBytes(32), (k) => `/api/v1/${k}/blob`, 'https://chat.example.com/');
  const parse = (url: string) => {
    const u = new URL(url);
    return {
      path: u.pathname,
      expires: u.searchParams.get('expires') ?? '',
      signature: u.searchParams.get('signature') ?? '',
    };
  };

  it('signs method, key and expiry; any change is invalid, a past expiry expired', () => {
    const url = signer.sign('GET', 'attachments/abc', new Date(Date.now() + 60_000));
    const q = parse(url);
    expect(q.path).toBe('/api/v1/attachments/abc/blob');
    expect(url.startsWith('https://chat.example.com/api/v1/')).toBe(true);
    expect(signer.verify('GET', 'attachments/abc', q.expires, q.signature)).toBe('ok');
    expect(signer.verify('PUT', 'attachments/abc', q.expires, q.signature)).toBe('invalid');
    expect(signer.verify('GET', 'attachments/abd', q.expires, q.signature)).toBe('invalid');
    expect(signer.verify('GET', 'attachments/abc', String(Number(q.expires) + 1), q.signature)).toBe('invalid');
    // Every other character at the first position, and every other spelling of the last one (whose
    // two low bits are unused by the 32-byte MAC, so only the canonical spelling may pass).
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    for (const c of alphabet) {
      if (c !== q.signature[0]) {
        expect(signer.verify('GET', 'attachments/abc', q.expires, `${c}${q.signature.slice(1)}`)).toBe('invalid');
      }
      if (c !== q.signature.at(-1)) {
        expect(signer.verify('GET', 'attachments/abc', q.expires, `${q.signature.slice(0, -1)}${c}`)).toBe('invalid');
      }
    }
    expect(signer.verify('GET', 'attachments/abc', q.expires, 'short')).toBe('invalid');
    expect(signer.verify('GET', 'attachments/abc', 'soon', q.signature)).toBe('invalid');
    expect(signer.verify('GET', 'attachments/abc', q.expires, q.signature, new Date(Date.now() + 120_000))).toBe(
      'expired',
    );
    const other = new BlobUrlSigner(randomBytes(32), (k) => `/api/v1/${k}/blob`, undefined);
    expect(other.verify('GET', 'attachments/abc', q.expires, q.signature)).toBe('invalid');
    expect(other.sign('PUT', 'attachments/abc', new Date())).toMatch(
      /^\/api\/v1\/attachments\/abc\/blob\?expires=\d+&signature=/,
    );
  });
});

describe('Range header parsing', () => {
  it.each([
    ['bytes=0-9', 100, { start: 0, end: 9 }],
    ['bytes=90-', 100, { start: 90, end: 99 }],
    ['bytes=90-500', 100, { start: 90, end: 99 }],
    ['bytes=-10', 100, { start: 90, end: 99 }],
    ['bytes=-500', 100, { start: 0, end: 99 }],
    ['bytes=100-', 100, 'unsatisfiable'],
    ['bytes=-0', 100, 'unsatisfiable'],
    ['bytes=5-2', 100, null],
    ['bytes=0-1,5-6', 100, null],
    ['items=0-1', 100, null],
    ['bytes=-', 100, null],
  ])('%s of %i bytes', (header, size, expected) => {
    expect(parseRange(header, size)).toEqual(expected);
  });
});
