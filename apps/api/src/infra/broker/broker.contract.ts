import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Broker } from './broker.js';

export interface BrokerSubject {
  impl: Broker;
  cleanup: () => Promise<void>;
}

/** Polls `cond` until it holds, failing after `timeoutMs`. */
export async function waitFor(cond: () => boolean, what: string, timeoutMs = 2_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

export const randomTopic = (tag = 't') => `contract:${tag}:${randomUUID()}`;

/** Records every payload a handler receives. */
export function recorder(): { handler: (payload: string) => void; got: string[] } {
  const got: string[] = [];
  return { handler: (p) => got.push(p), got };
}

/**
 * Everything published by `broker` before this call has been delivered (or will never be) once it
 * returns: a token on a fresh topic, published after, comes back last.
 */
export async function barrier(broker: Broker): Promise<void> {
  const topic = randomTopic('barrier');
  const token = randomUUID();
  const r = recorder();
  const unsubscribe = await broker.subscribe(topic, r.handler);
  await broker.publish(topic, token);
  await waitFor(() => r.got.includes(token), 'barrier token');
  await unsubscribe();
}

/** The behaviour every Broker must show; the memory and Redis brokers both run it. */
export function describeBroker(label: string, make: () => Promise<BrokerSubject>): void {
  describe(`Broker contract: ${label}`, () => {
    let subject: BrokerSubject;
    let broker: Broker;

    beforeEach(async () => {
      subject = await make();
      broker = subject.impl;
    });
    afterEach(async () => {
      await subject.cleanup();
    });

    it('delivers a published payload to a subscriber', async () => {
      const topic = randomTopic();
      const r = recorder();
      await broker.subscribe(topic, r.handler);
      await broker.publish(topic, 'hello');
      await waitFor(() => r.got.length === 1, 'delivery');
      expect(r.got).toEqual(['hello']);
    });

    it('delivers to every subscriber of the topic, and to no other topic', async () => {
      const topic = randomTopic();
      const a = recorder();
      const b = recorder();
      const other = recorder();
      await broker.subscribe(topic, a.handler);
      await broker.subscribe(topic, b.handler);
      await broker.subscribe(randomTopic('other'), other.handler);
      await broker.publish(topic, 'both');
      await waitFor(() => a.got.length === 1 && b.got.length === 1, 'both subscribers');
      await barrier(broker);
      expect(a.got).toEqual(['both']);
      expect(b.got).toEqual(['both']);
      expect(other.got).toEqual([]);
    });

    it('stops delivering to an unsubscribed handler while another handler of the topic keeps receiving', async () => {
      const topic = randomTopic();
      const gone = recorder();
      const stays = recorder();
      const unsubscribe = await broker.subscribe(topic, gone.handler);
      await broker.subscribe(topic, stays.handler);
      await broker.publish(topic, 'first');
      await waitFor(() => gone.got.length === 1 && stays.got.length === 1, 'first delivery');

      await unsubscribe();
      await broker.publish(topic, 'second');
      await waitFor(() => stays.got.length === 2, 'second delivery');
      await barrier(broker);
      expect(stays.got).toEqual(['first', 'second']);
      expect(gone.got).toEqual(['first']);
      // Unsubscribing twice is harmless and does not touch the remaining handler.
      await unsubscribe();
      await broker.publish(topic, 'third');
      await waitFor(() => stays.got.length === 3, 'third delivery');
      expect(gone.got).toEqual(['first']);
    });

    it('stops delivering once the last handler of a topic unsubscribes', async () => {
      const topic = randomTopic();
      const r = recorder();
      const unsubscribe = await broker.subscribe(topic, r.handler);
      await unsubscribe();
      await broker.publish(topic, 'late');
      await barrier(broker);
      expect(r.got).toEqual([]);

      // The topic can be subscribed again afterwards.
      const again = recorder();
      await broker.subscribe(topic, again.handler);
      await broker.publish(topic, 'again');
      await waitFor(() => again.got.length === 1, 'delivery after resubscribe');
      expect(again.got).toEqual(['again']);
      expect(r.got).toEqual([]);
    });

    it('round-trips payload strings exactly (unicode, control characters, 100 KB)', async () => {
      const topic = randomTopic();
      const r = recorder();
      await broker.subscribe(topic, r.handler);
      const big = Array.from({ length: 100 * 1024 }, (_, i) => String.fromCharCode(32 + (i % 95))).join('');
      const payloads = [
        'Привет, 世界! 👋🏽 e\u0301 \u{1F600}',
        '{"json":"with \\"quotes\\"","n":[1,2,3]}',
        'line1\nline2\r\n\ttab\u0000nul',
        ' ',
        big,
        `${big}€`,
      ];
      for (const p of payloads) await broker.publish(topic, p);
      await waitFor(() => r.got.length === payloads.length, 'all payloads');
      expect(r.got.length).toBe(payloads.length);
      for (const [i, p] of payloads.entries()) expect(r.got[i] === p, `payload #${i} differs`).toBe(true);
      expect(r.got[4]?.length).toBe(100 * 1024);
    });

    it('preserves the order of publishes to one topic', async () => {
      const topic = randomTopic();
      const r = recorder();
      await broker.subscribe(topic, r.handler);
      const sent = Array.from({ length: 50 }, (_, i) => `m${i}`);
      for (const m of sent) await broker.publish(topic, m);
      await waitFor(() => r.got.length === sent.length, 'all ordered messages');
      expect(r.got).toEqual(sent);
    });

    it('keeps delivering to other handlers when one handler throws', async () => {
      const topic = randomTopic();
      const r = recorder();
      await broker.subscribe(topic, () => {
        throw new Error('faulty listener');
      });
      await broker.subscribe(topic, r.handler);
      await broker.publish(topic, 'x');
      await waitFor(() => r.got.length === 1, 'delivery past a throwing handler');
      expect(r.got).toEqual(['x']);
    });

    it('publishing to a topic without subscribers resolves', async () => {
      await expect(broker.publish(randomTopic('nobody'), 'void')).resolves.toBeUndefined();
    });

    it('ping resolves', async () => {
      await expect(broker.ping()).resolves.toBeUndefined();
    });
  });
}
