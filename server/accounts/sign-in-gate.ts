// How many sign-ins verify a password at once. bcrypt runs in PostgreSQL (60-80 ms of a core at cost 10): on the pool
// that serves beats, 20 anonymous wrong-password loops took another tenant's beats from p50 9 ms to ~1 s, 80 loops to
// ~4 s with 503s (issue 14). Sign-ins get a pool of their own (SIGN_IN_CONNECTIONS) and this gate in front of it: as
// many run as the pool has connections, a short queue waits (SIGN_IN_QUEUE, at most QUEUE_WAIT_MS), and beyond that a
// sign-in is answered 503 at once with Retry-After. Figures: docs/reliability.md (npm run soak -- --scenario flood).
import { HttpError } from '../http/http-error.ts';

/** Longest a sign-in waits in the queue before it is answered 503 instead. */
export const QUEUE_WAIT_MS = 2_000;

export const signInBusy = () =>
  new HttpError(503, 'sign_in_busy', 'too many sign-ins at once: try again in a second', { 'Retry-After': '1' });

export class SignInGate {
  private running = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(
    private readonly concurrency: number,
    private readonly queue: number,
    private readonly waitMs = QUEUE_WAIT_MS,
  ) {}

  /** Runs `work` when a turn is free; throws sign_in_busy (503) when the queue is full or the wait too long. */
  async run<T>(work: () => Promise<T>): Promise<T> {
    if (this.running >= this.concurrency) await this.turn();
    else this.running += 1;
    try {
      return await work();
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.running -= 1;
    }
  }

  /** Waits for a running sign-in to hand over its turn (running stays the same). */
  private turn(): Promise<void> {
    if (this.waiting.length >= this.queue) return Promise.reject(signInBusy());
    return new Promise<void>((resolve, reject) => {
      const wake = () => {
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(() => {
        this.waiting.splice(this.waiting.indexOf(wake), 1);
        reject(signInBusy());
      }, this.waitMs);
      this.waiting.push(wake);
    });
  }
}
