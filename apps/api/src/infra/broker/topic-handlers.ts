/** Topic → handlers bookkeeping shared by both brokers; reports when a topic gains/loses its first/last handler. */
export class TopicHandlers {
  private readonly byTopic = new Map<string, Set<(payload: string) => void>>();

  add(topic: string, handler: (payload: string) => void): { first: boolean } {
    const existing = this.byTopic.get(topic);
    const set = existing ?? new Set<(payload: string) => void>();
    if (!existing) this.byTopic.set(topic, set);
    set.add(handler);
    const first = !existing;
    return { first };
  }

  remove(topic: string, handler: (payload: string) => void): { last: boolean } {
    const set = this.byTopic.get(topic);
    if (!set?.delete(handler)) return { last: false };
    if (set.size > 0) return { last: false };
    this.byTopic.delete(topic);
    return { last: true };
  }

  dispatch(topic: string, payload: string): void {
    for (const h of [...(this.byTopic.get(topic) ?? [])]) {
      try {
        h(payload);
      } catch {
        // One faulty listener must not starve the others on the same topic.
      }
    }
  }

  /** Every topic with at least one handler. */
  topics(): string[] {
    return [...this.byTopic.keys()];
  }

  clear(): void {
    this.byTopic.clear();
  }
}
