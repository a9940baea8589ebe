import { randomBytes, randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type BlobStore, BlobTooLargeError } from './blob-store.js';

export interface BlobStoreSubject {
  impl: BlobStore;
  cleanup: () => Promise<void>;
}

const randomKey = () => `contract/${randomUUID()}`;

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** A source of `data` in 64 KiB chunks that fails after `failAfter` bytes, if given (a client cut off). */
function chunked(data: Buffer, failAfter?: number): Readable {
  return Readable.from(
    (async function* () {
      for (let i = 0; i < data.length; i += 64 * 1024) {
        if (failAfter !== undefined && i >= failAfter) throw new Error('connection reset');
        yield data.subarray(i, i + 64 * 1024);
      }
    })(),
  );
}

/** The behaviour every BlobStore must show; the disk and MinIO stores both run it. */
export function describeBlobStore(label: string, make: () => Promise<BlobStoreSubject>): void {
  describe(`BlobStore contract: ${label}`, () => {
    let subject: BlobStoreSubject;
    let store: BlobStore;

    beforeEach(async () => {
      subject = await make();
      store = subject.impl;
    });
    afterEach(async () => {
      await subject.cleanup();
    });

    it('put then get round-trips 1 MiB of random bytes; stat reports size and content type', async () => {
      const key = randomKey();
      const data = new Uint8Array(randomBytes(1024 * 1024));
      await store.put(key, data, 'application/x-test');
      const got = await store.get(key);
      expect(got).not.toBeNull();
      expect(got?.byteLength).toBe(data.byteLength);
      expect(Buffer.from(got as Uint8Array).equals(Buffer.from(data))).toBe(true);
      expect(await store.stat(key)).toEqual({ size: data.byteLength, contentType: 'application/x-test' });
    });

    it('defaults the content type to application/octet-stream', async () => {
      const key = randomKey();
      await store.put(key, new Uint8Array([1, 2, 3]));
      expect(await store.stat(key)).toEqual({ size: 3, contentType: 'application/octet-stream' });
    });

    it('stores an empty blob', async () => {
      const key = randomKey();
      await store.put(key, new Uint8Array(0));
      expect((await store.get(key))?.byteLength).toBe(0);
      expect((await store.stat(key))?.size).toBe(0);
    });

    it('get and stat of a missing key are null', async () => {
      const key = randomKey();
      expect(await store.get(key)).toBeNull();
      expect(await store.stat(key)).toBeNull();
    });

    it('delete removes the blob; delete of a missing key resolves', async () => {
      const key = randomKey();
      await store.put(key, new Uint8Array([9, 9, 9]));
      await store.delete(key);
      expect(await store.get(key)).toBeNull();
      expect(await store.stat(key)).toBeNull();
      await expect(store.delete(key)).resolves.toBeUndefined();
      await expect(store.delete(randomKey())).resolves.toBeUndefined();
    });

    it('accepts keys with slashes, kept apart from their prefixes', async () => {
      const base = `contract-${randomUUID()}`;
      const deep = `${base}/b/c`;
      const sibling = `${base}/b/d`;
      await store.put(deep, new Uint8Array([1]), 'text/plain');
      await store.put(sibling, new Uint8Array([2, 2]));
      expect(Array.from((await store.get(deep)) ?? [])).toEqual([1]);
      expect(Array.from((await store.get(sibling)) ?? [])).toEqual([2, 2]);
      expect(await store.stat(deep)).toEqual({ size: 1, contentType: 'text/plain' });
      await store.delete(deep);
      expect(await store.get(deep)).toBeNull();
      expect(Array.from((await store.get(sibling)) ?? [])).toEqual([2, 2]);
    });

    it('a key, the keys beneath it and its prefixes are all distinct', async () => {
      const base = `contract-${randomUUID()}`;
      await store.put(`${base}/x/y`, new Uint8Array([1]));
      // A prefix of a stored key is not itself a blob.
      expect(await store.get(base)).toBeNull();
      expect(await store.stat(base)).toBeNull();
      expect(await store.get(`${base}/x`)).toBeNull();
      expect(await store.stat(`${base}/x`)).toBeNull();
      // ... but can become one, next to the keys beneath it.
      await store.put(`${base}/x`, new Uint8Array([2, 2]));
      expect(Array.from((await store.get(`${base}/x`)) ?? [])).toEqual([2, 2]);
      expect(Array.from((await store.get(`${base}/x/y`)) ?? [])).toEqual([1]);
      // A key can also gain keys beneath it after it was stored.
      await store.put(base, new Uint8Array([3, 3, 3]));
      await store.put(`${base}/z`, new Uint8Array([4]));
      expect((await store.stat(base))?.size).toBe(3);
      expect((await store.stat(`${base}/z`))?.size).toBe(1);
    });

    it('keys that look like internal file names are ordinary keys', async () => {
      const key = randomKey();
      await store.put(key, new Uint8Array([1]), 'text/plain');
      for (const suffix of ['.meta', '.tmp', '.blob', '.d']) {
        expect(await store.get(key + suffix)).toBeNull();
        expect(await store.stat(key + suffix)).toBeNull();
        await store.put(key + suffix, new Uint8Array([2, 2]), 'application/x-other');
        expect(await store.stat(key + suffix)).toEqual({ size: 2, contentType: 'application/x-other' });
      }
      expect(await store.stat(key)).toEqual({ size: 1, contentType: 'text/plain' });
      expect(Array.from((await store.get(key)) ?? [])).toEqual([1]);
    });

    it('accepts the literal key a/b/c', async () => {
      await store.put('a/b/c', new Uint8Array([7, 8]));
      expect(Array.from((await store.get('a/b/c')) ?? [])).toEqual([7, 8]);
      await store.delete('a/b/c');
      expect(await store.get('a/b/c')).toBeNull();
    });

    it.each([
      { name: '../x', key: '../x' },
      { name: 'a/../../x', key: 'a/../../x' },
      { name: '/abs', key: '/abs' },
      { name: 'a//b', key: 'a//b' },
      { name: 'a/./b', key: 'a/./b' },
      { name: 'a/', key: 'a/' },
      { name: '(empty)', key: '' },
      { name: '.hidden', key: '.hidden' },
      { name: 'sp ace', key: 'sp ace' },
      { name: '(300 characters)', key: 'x'.repeat(300) },
    ])('rejects the invalid key $name in every operation', async ({ key }) => {
      await expect(store.put(key, new Uint8Array([1]))).rejects.toThrow(/invalid blob key/);
      await expect(store.get(key)).rejects.toThrow(/invalid blob key/);
      await expect(store.stat(key)).rejects.toThrow(/invalid blob key/);
      await expect(store.delete(key)).rejects.toThrow(/invalid blob key/);
      await expect(store.getStream(key)).rejects.toThrow(/invalid blob key/);
      await expect(store.putStream(key, Readable.from([Buffer.from('x')]), { maxBytes: 10 })).rejects.toThrow(
        /invalid blob key/,
      );
    });

    it('overwrite replaces content, size and content type', async () => {
      const key = randomKey();
      await store.put(key, new Uint8Array(randomBytes(4096)), 'application/x-first');
      const second = new Uint8Array(randomBytes(100));
      await store.put(key, second, 'application/x-second');
      expect(Buffer.from((await store.get(key)) as Uint8Array).equals(Buffer.from(second))).toBe(true);
      expect(await store.stat(key)).toEqual({ size: 100, contentType: 'application/x-second' });
    });

    it('keeps the bytes of the passed array, not of its underlying buffer', async () => {
      const key = randomKey();
      const backing = new Uint8Array([0, 1, 2, 3, 4, 5, 6, 7]);
      await store.put(key, backing.subarray(2, 5));
      expect(Array.from((await store.get(key)) ?? [])).toEqual([2, 3, 4]);
      expect((await store.stat(key))?.size).toBe(3);
    });

    it('concurrent puts of one key leave one complete blob', async () => {
      const key = randomKey();
      const versions = Array.from({ length: 5 }, () => new Uint8Array(randomBytes(64 * 1024)));
      await Promise.all(versions.map((v) => store.put(key, v)));
      const got = Buffer.from((await store.get(key)) as Uint8Array);
      expect(versions.some((v) => got.equals(Buffer.from(v)))).toBe(true);
    });

    it('putStream stores a stream of exactly maxBytes and reports its size', async () => {
      const key = randomKey();
      const data = randomBytes(1024 * 1024 + 17);
      expect(
        await store.putStream(key, chunked(data), { maxBytes: data.length, contentType: 'application/x-s' }),
      ).toEqual({ size: data.length, contentType: 'application/x-s' });
      expect(Buffer.from((await store.get(key)) as Uint8Array).equals(data)).toBe(true);
      expect(await store.stat(key)).toEqual({ size: data.length, contentType: 'application/x-s' });
    });

    it('putStream beyond maxBytes rejects with BlobTooLargeError and stores nothing', async () => {
      const key = randomKey();
      const data = randomBytes(300 * 1024);
      await expect(store.putStream(key, chunked(data), { maxBytes: data.length - 1 })).rejects.toBeInstanceOf(
        BlobTooLargeError,
      );
      expect(await store.stat(key)).toBeNull();
    });

    it('a putStream whose source fails stores nothing and keeps the previous blob', async () => {
      const key = randomKey();
      await store.put(key, new Uint8Array([1, 2, 3]), 'text/plain');
      await expect(
        store.putStream(key, chunked(randomBytes(512 * 1024), 200 * 1024), { maxBytes: 1024 * 1024 }),
      ).rejects.toThrow(/connection reset/);
      expect(await store.stat(key)).toEqual({ size: 3, contentType: 'text/plain' });
      const fresh = randomKey();
      await expect(
        store.putStream(fresh, chunked(randomBytes(512 * 1024), 200 * 1024), { maxBytes: 1024 * 1024 }),
      ).rejects.toThrow(/connection reset/);
      expect(await store.stat(fresh)).toBeNull();
    });

    it('getStream reads the whole blob, or an inclusive byte range of it', async () => {
      const key = randomKey();
      const data = randomBytes(200 * 1024);
      await store.put(key, data, 'application/x-r');
      const all = await store.getStream(key);
      expect(all).toMatchObject({ size: data.length, contentType: 'application/x-r' });
      expect((await readAll((all as { stream: Readable }).stream)).equals(data)).toBe(true);
      const part = await store.getStream(key, { start: 1000, end: 70_000 });
      expect(part?.size).toBe(data.length);
      expect((await readAll((part as { stream: Readable }).stream)).equals(data.subarray(1000, 70_001))).toBe(true);
      const last = await store.getStream(key, { start: data.length - 1, end: data.length - 1 });
      expect(Array.from(await readAll((last as { stream: Readable }).stream))).toEqual([data[data.length - 1]]);
      await expect(store.getStream(key, { start: data.length, end: data.length })).rejects.toBeInstanceOf(RangeError);
      expect(await store.getStream(randomKey())).toBeNull();
    });

    it('presigned PUT and GET URLs carry an expiry in the future', async () => {
      const key = randomKey();
      const put = await store.presignPut(key, { contentType: 'application/octet-stream', expiresInS: 900 });
      const get = await store.presignGet(key, { expiresInS: 60 });
      for (const p of [put, get]) {
        expect(p.url).toMatch(/^(https?:\/\/|\/)/);
        expect(p.expiresAt.getTime()).toBeGreaterThan(Date.now());
      }
      expect(put.expiresAt.getTime() - Date.now()).toBeLessThanOrEqual(900_000);
      expect(put.url).not.toBe(get.url);
      await expect(store.presignPut('../x', { contentType: 'x/y', expiresInS: 1 })).rejects.toThrow(/invalid blob key/);
    });

    it('ping resolves', async () => {
      await expect(store.ping()).resolves.toBeUndefined();
    });
  });
}
