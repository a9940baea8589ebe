import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { describeBroker, randomTopic, recorder, waitFor } from '../../src/infra/broker/broker.contract.js';
import { MemoryBroker } from '../../src/infra/broker/memory-broker.js';
import { RedisBroker } from '../../src/infra/broker/redis-broker.js';

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
