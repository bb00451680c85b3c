// A doorbell that coalesces: however often it rings, its task runs one at a time and at most once per interval, and
// a ring during a run (or during the wait) means exactly one more run. A flood of notifications, forged or real,
// costs at most one run per interval; a single ring after a quiet spell runs at once.
export class Coalesced {
  private running = false;
  private again = false;
  private timer: NodeJS.Timeout | null = null;
  private lastStart = -Infinity;
  private closed = false;

  constructor(
    private readonly task: () => Promise<void>,
    private readonly minIntervalMs: number,
  ) {}

  ring(): void {
    if (this.closed) return;
    if (this.running || this.timer) {
      this.again = true;
      return;
    }
    const wait = this.lastStart + this.minIntervalMs - Date.now();
    if (wait > 0) {
      this.timer = setTimeout(() => {
        this.timer = null;
        this.start();
      }, wait);
      this.timer.unref();
    } else {
      this.start();
    }
  }

  private start(): void {
    if (this.closed) return;
    this.running = true;
    this.again = false;
    this.lastStart = Date.now();
    void this.task()
      .catch(() => {})
      .finally(() => {
        this.running = false;
        if (this.again) this.ring();
      });
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }
}
