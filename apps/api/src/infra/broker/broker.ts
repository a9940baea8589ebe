export type Unsubscribe = () => Promise<void>;

/**
 * Wakes listeners across API nodes. Delivery is best effort: the database is the source of truth,
 * so a subscriber that misses a publish must still find the data by reading its queue.
 */
export interface Broker {
  readonly backend: 'redis' | 'memory';
  publish(topic: string, payload: string): Promise<void>;
  subscribe(topic: string, handler: (payload: string) => void): Promise<Unsubscribe>;
  ping(): Promise<void>;
  close(): Promise<void>;
}
