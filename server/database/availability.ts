// Whether the database answers, as the requests see it. An outage is logged once when it begins and once when it
// ends, not once per request: a 10-second outage under load used to write thousands of stack traces.
//
// The router's queries report here (server/database/handle.ts), and so does every request answered 503 by an error
// handler given the tracker (errorHandler in server/http/errors.ts): with PostgreSQL down, a request usually fails
// in the platform's `identify` before any presence query runs, and its outage must be logged too.
import type { Logger } from 'pino';

/** Errors that mean the database cannot be reached or will not serve now: the request answers 503. */
export function isUnavailable(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const { code, message } = error as { code?: unknown; message?: unknown };
  if (typeof code === 'string') {
    if (NETWORK_CODES.has(code)) return true;
    // class 08: connection exception; 57P01-03: shutdown, crash, cannot connect now; 53300: too many connections
    if (code.startsWith('08') || ['57P01', '57P02', '57P03', '53300'].includes(code)) return true;
  }
  return typeof message === 'string' && UNAVAILABLE_MESSAGES.test(message);
}

/**
 * node-postgres' answer to a request that waited connectionTimeoutMillis for a connection while every connection of
 * the pool was busy: the pool is saturated, PostgreSQL may well be answering. A connection that cannot be made
 * fails otherwise ("Connection terminated due to connection timeout", ECONNREFUSED, …). Still a 503.
 */
export function isPoolSaturated(error: unknown): boolean {
  return error instanceof Error && error.message === 'timeout exceeded when trying to connect';
}

/** A saturation episode ends after this long without a request timing out in the pool's queue. */
const SATURATION_QUIET_MS = 30_000;

const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'ENOTFOUND', 'EHOSTUNREACH', 'EPIPE', 'EAI_AGAIN']);
// node-postgres' own wording for a pool that cannot connect in time, a connection lost mid-query and query_timeout.
const UNAVAILABLE_MESSAGES =
  /timeout exceeded when trying to connect|Connection terminated|Query read timeout|connection error|Client was closed/i;

export class DatabaseAvailability {
  private down: { since: number } | null = null;
  /** When a request last timed out waiting for a pooled connection. */
  private saturatedAt: number | null = null;

  constructor(private readonly logger: Logger) {}

  get available(): boolean {
    return this.down === null;
  }

  /**
   * A query failed; an unavailable database starts an outage (logged once), a saturated pool an episode of its own
   * (logged once, not as an outage). Returns whether it was either.
   */
  failed(error: unknown): boolean {
    if (!isUnavailable(error)) return false;
    if (isPoolSaturated(error)) {
      this.poolSaturated();
      return true;
    }
    if (!this.down) {
      this.down = { since: Date.now() };
      this.logger.error(
        { reason: error instanceof Error ? error.message : String(error) },
        'database unavailable: requests that need it answer 503 until it is back',
      );
    }
    return true;
  }

  private poolSaturated(): void {
    const now = Date.now();
    const ongoing = this.saturatedAt !== null && now - this.saturatedAt < SATURATION_QUIET_MS;
    this.saturatedAt = now;
    if (ongoing) return;
    this.logger.warn(
      { quietSecondsToEnd: SATURATION_QUIET_MS / 1000 },
      'pool saturated: every database connection is busy, requests that wait too long for one answer 503 (not a database outage)',
    );
  }

  /** A query succeeded: an outage, if any, ends (logged once). */
  succeeded(): void {
    if (!this.down) return;
    const seconds = Math.round((Date.now() - this.down.since) / 100) / 10;
    this.down = null;
    this.logger.info({ outageSeconds: seconds }, 'database available again');
  }
}
