import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { describeBroker, randomTopic, recorder, waitFor } from '../../src/infra/broker/broker.contract.js';
import { MemoryBroker } from '../../src/infra/broker/memory-broker.js';
import { RedisBroker } from '../../src/infra/broker/redis-broker.js';
import { TcpProxy } from '../helpers/tcp-proxy.js';

const redisUrl = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

/** A RedisBroker on its own pair of connections, i.e. one API node. */
function redisNode(): { broker: RedisBroker; close: () => Promise<void> } {
  const pub = new Redis(redisUrl);
  const sub = new Redis(redisUrl);
  const broker = new RedisBroker(pub, sub);
  return {
    broker,
    close: async () => {
      await broker.close();
      pub.disconnect();
      sub.disconnect();
    },
  };
}

describeBroker('MemoryBroker', async () => {
  const impl = new MemoryBroker();
  return { impl, cleanup: () => impl.close() };
});

describeBroker('RedisBroker', async () => {
  const node = redisNode();
  return { impl: node.broker, cleanup: node.close };
});

describe('RedisBroker across nodes', () => {
  const nodes: Array<{ close: () => Promise<void> }> = [];
  afterEach(async () => {
    await Promise.all(nodes.splice(0).map((n) => n.close()));
  });

  it('a publish on one node reaches subscribers on another node', async () => {
    const a = redisNode();
    const b = redisNode();
    nodes.push(a, b);
    const topic = randomTopic('nodes');
    const onA = recorder();
    const onB = recorder();
    await a.broker.subscribe(topic, onA.handler);
    await b.broker.subscribe(topic, onB.handler);

    await a.broker.publish(topic, 'from-a');
    await b.broker.publish(topic, 'from-b');
    await waitFor(() => onA.got.length === 2 && onB.got.length === 2, 'cross-node delivery');
    expect(onA.got).toEqual(['from-a', 'from-b']);
    expect(onB.got).toEqual(['from-a', 'from-b']);
  });
});

describe('RedisBroker when its subscriber connection drops', () => {
  it('resubscribes its topics on reconnect, and closing just after a reconnect rejects nothing unhandled', async () => {
    const target = new URL(redisUrl);
    const proxy = await new TcpProxy(target.hostname, Number(target.port || 6379)).start();
    const unhandled: unknown[] = [];
    const onUnhandled = (e: unknown) => unhandled.push(e);
    process.on('unhandledRejection', onUnhandled);
    const pub = new Redis(redisUrl);
    const sub = new Redis({ host: '127.0.0.1', port: proxy.port, retryStrategy: () => 50 });
    sub.on('error', () => {});
    const broker = new RedisBroker(pub, sub);
    try {
      const topics = [randomTopic('drop'), randomTopic('drop')];
      const got = topics.map(() => recorder());
      for (const [i, t] of topics.entries()) await broker.subscribe(t, got[i]!.handler);

      proxy.cut();
      await waitFor(() => sub.status !== 'ready', 'subscriber connection dropped');
      proxy.restore();
      await waitFor(() => sub.status === 'ready', 'subscriber connection back');
      // Published until it arrives: the resubscription is asynchronous after 'ready'.
      for (const [i, t] of topics.entries()) {
        for (let tries = 0; tries < 40 && !got[i]!.got.includes(`after-${i}`); tries++) {
          await broker.publish(t, `after-${i}`);
          await new Promise((r) => setTimeout(r, 50));
        }
        expect(got[i]!.got).toContain(`after-${i}`);
      }

      // Dropped again and closed the moment it is back, while its resubscription is in flight.
      proxy.cut();
      await waitFor(() => sub.status !== 'ready', 'subscriber connection dropped again');
      const closedOnReady = new Promise<void>((resolve) =>
        sub.once('ready', () => {
          void broker.close().then(resolve);
        }),
      );
      proxy.restore();
      await closedOnReady;
      await new Promise((r) => setTimeout(r, 200));
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
      await broker.close();
      pub.disconnect();
      await proxy.stop();
    }
  });
});
