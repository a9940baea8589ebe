import type { Redis } from 'ioredis';
import type { Broker, Unsubscribe } from './broker.js';
import { TopicHandlers } from './topic-handlers.js';

const PREFIX = 'st:bus:';

/**
 * Redis pub/sub; one subscriber connection per process, multiplexed over all topics.
 *
 * The broker resubscribes its own topics when the subscriber connection comes back, instead of
 * ioredis's `autoResubscribe`: that one issues a SUBSCRIBE nobody awaits, so closing the node just
 * after a reconnect rejected it as an unhandled rejection (which ends a Node process).
 */
export class RedisBroker implements Broker {
  readonly backend = 'redis' as const;
  private readonly handlers = new TopicHandlers();
  /** In-flight SUBSCRIBE per topic: later subscribers wait for it, so none returns before Redis confirms. */
  private readonly confirming = new Map<string, Promise<unknown>>();

  constructor(
    private readonly pub: Redis,
    private readonly sub: Redis,
  ) {
    // The broker owns resubscription, however the connection was made (see above).
    sub.options.autoResubscribe = false;
    sub.on('message', (channel: string, message: string) => {
      if (channel.startsWith(PREFIX)) this.handlers.dispatch(channel.slice(PREFIX.length), message);
    });
    // 'ready' follows every (re)connect. A topic subscribed twice is harmless, so the first connect
    // needs no special case; a failure here is the connection dropping again, and the next
    // 'ready' tries again.
    sub.on('ready', () => {
      const channels = this.handlers.topics().map((t) => PREFIX + t);
      if (channels.length > 0) this.sub.subscribe(...channels).catch(() => {});
    });
  }

  async publish(topic: string, payload: string): Promise<void> {
    await this.pub.publish(PREFIX + topic, payload);
  }

  async subscribe(topic: string, handler: (payload: string) => void): Promise<Unsubscribe> {
    if (this.handlers.add(topic, handler).first) {
      // Only this SUBSCRIBE's own entry goes when it settles: the topic may have been dropped and
      // subscribed again meanwhile, and the newer, still unconfirmed SUBSCRIBE must stay awaited.
      const p: Promise<unknown> = this.sub.subscribe(PREFIX + topic).finally(() => {
        if (this.confirming.get(topic) === p) this.confirming.delete(topic);
      });
      this.confirming.set(topic, p);
    }
    await this.confirming.get(topic);
    return async () => {
      if (this.handlers.remove(topic, handler).last) await this.sub.unsubscribe(PREFIX + topic).catch(() => {});
    };
  }

  async ping(): Promise<void> {
    await this.pub.ping();
  }

  async close(): Promise<void> {
    this.handlers.clear();
    this.sub.disconnect();
  }
}
