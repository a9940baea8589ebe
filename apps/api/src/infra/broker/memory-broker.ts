import type { Broker, Unsubscribe } from './broker.js';
import { TopicHandlers } from './topic-handlers.js';

/** In-process broker for the single-node embedded default. */
export class MemoryBroker implements Broker {
  readonly backend = 'memory' as const;
  private readonly handlers = new TopicHandlers();

  async publish(topic: string, payload: string): Promise<void> {
    // Asynchronous like Redis, so callers never rely on a synchronous callback order.
    queueMicrotask(() => this.handlers.dispatch(topic, payload));
  }

  async subscribe(topic: string, handler: (payload: string) => void): Promise<Unsubscribe> {
    this.handlers.add(topic, handler);
    return async () => {
      this.handlers.remove(topic, handler);
    };
  }

  async ping(): Promise<void> {}

  async close(): Promise<void> {
    this.handlers.clear();
  }
}
