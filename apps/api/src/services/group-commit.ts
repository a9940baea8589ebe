/**
 * Group commit: callers submit items one by one, the items that arrive while the previous batch is
 * being written go out together in the next one. Nothing waits for a timer: an idle batcher writes
 * on the next turn of the event loop (so items arriving in the same turn — frames read from one
 * socket chunk, sends of one tick — share a statement), and under load batches grow by themselves
 * to what arrived during one round trip, bounded by `maxBatch`.
 *
 * `flush` gets the items in submission order and returns one result per item. If a batch fails as
 * a whole, its items are retried one by one, so one bad item fails alone and the others still commit.
 */
export class GroupCommit<T, R> {
  private queue: Array<{ item: T; resolve: (r: R) => void; reject: (e: unknown) => void }> = [];
  private inFlight = 0;
  private scheduled = false;

  constructor(
    private readonly flush: (items: T[]) => Promise<R[]>,
    private readonly opts: { maxBatch: number; maxInFlight: number; onBatch?: (size: number) => void },
  ) {}

  submit(item: T): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      this.schedule();
    });
  }

  /** Items waiting for a batch (not yet being written). */
  get waiting(): number {
    return this.queue.length;
  }

  private schedule(): void {
    if (this.scheduled || this.inFlight >= this.opts.maxInFlight || this.queue.length === 0) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.run();
    });
  }

  private run(): void {
    while (this.inFlight < this.opts.maxInFlight && this.queue.length > 0) {
      const batch = this.queue.splice(0, this.opts.maxBatch);
      this.inFlight++;
      this.opts.onBatch?.(batch.length);
      void this.write(batch).finally(() => {
        this.inFlight--;
        // What arrived meanwhile goes now: the next batch starts as soon as a slot frees.
        if (this.queue.length > 0) this.run();
      });
    }
  }

  private async write(batch: Array<{ item: T; resolve: (r: R) => void; reject: (e: unknown) => void }>) {
    try {
      const results = await this.flush(batch.map((b) => b.item));
      for (const [i, b] of batch.entries()) b.resolve(results[i] as R);
    } catch (e) {
      if (batch.length === 1) {
        batch[0]?.reject(e);
        return;
      }
      for (const b of batch) {
        try {
          const [r] = await this.flush([b.item]);
          b.resolve(r as R);
        } catch (err) {
          b.reject(err);
        }
      }
    }
  }
}
