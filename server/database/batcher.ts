// Concurrent requests share one database call: while a call is in flight, new items queue up and go together in the
// next call (unnest arrays), so a burst of N requests costs far fewer than N round trips and never more than one
// per request. Why: one call per item leaves PostgreSQL doing per-statement work a batch does once (docs/benchmarks.md,
// "Levers": statements per request 1.21 -> 0.30-0.39).
import { isUnavailable } from './availability.ts';

const MAX_BATCH = 500;

interface Pending<I, O> {
  item: I;
  resolve: (result: O) => void;
  reject: (error: unknown) => void;
}

export class Batcher<I, O> {
  private queue: Array<Pending<I, O>> = [];
  private inFlight = false;

  /** `send` answers one result per item, in order. */
  constructor(private readonly send: (items: I[]) => Promise<O[]>) {}

  run(item: I): Promise<O> {
    return new Promise((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      if (this.inFlight) return;
      // The first item of an idle batcher waits for the rest of this turn of the event loop: requests whose bytes
      // arrived together go in one call instead of the first alone.
      this.inFlight = true;
      setImmediate(() => void this.flush());
    });
  }

  private async flush(): Promise<void> {
    while (this.queue.length > 0) {
      const batch = this.queue.splice(0, MAX_BATCH);
      try {
        const results = await this.send(batch.map((p) => p.item));
        batch.forEach((p, i) => p.resolve(results[i]!));
      } catch (error) {
        // One bad item must not fail its neighbours: on error, each goes alone and gets its own answer. A database
        // that does not answer fails them all at once (each alone would wait out its own timeout in turn).
        if (batch.length === 1 || isUnavailable(error)) batch.forEach((p) => p.reject(error));
        else await Promise.all(batch.map((p) => this.send([p.item]).then((r) => p.resolve(r[0]!), p.reject)));
      }
    }
    this.inFlight = false;
  }
}
