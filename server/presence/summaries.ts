// The streams' `summary` events: once a second, while streams are open, one call of presence.tenant_summaries for
// every tenant with open streams in this process; a tenant's streams get the summary when it changed since the last
// one sent, or when a stream opened since (so a new console has one within a second). Nothing decides here: the
// figures are the database's.
import type { Logger } from 'pino';
import type { Summary } from '../http/contract.ts';
import type { Database } from '../database/handle.ts';
import { tenantSummaries } from './sql/summary.ts';
import type { StreamHub } from './streams.ts';

/** How often the open tenants' summaries are read: "live" for a person, one query a second for the process. */
const SUMMARY_INTERVAL_MS = 1_000;

export class SummaryFeed {
  private readonly timer: NodeJS.Timeout;
  private running = false;
  /** Per tenant: the last summary sent (without its `at`) and how many streams it had then. */
  private readonly sent = new Map<string, { key: string; streams: number }>();

  constructor(
    private readonly db: Database,
    private readonly streams: StreamHub,
    private readonly logger: Logger,
    intervalMs = SUMMARY_INTERVAL_MS,
  ) {
    this.timer = setInterval(() => void this.tick(), intervalMs);
    this.timer.unref();
  }

  private async tick(): Promise<void> {
    if (this.running) return;
    const open = this.streams.openTenants();
    for (const tenantId of [...this.sent.keys()]) if (!open.has(tenantId)) this.sent.delete(tenantId);
    if (open.size === 0) return;
    this.running = true;
    try {
      const summaries = await tenantSummaries(this.db, [...open.keys()]);
      for (const [tenantId, summary] of summaries) this.send(tenantId, summary, open.get(tenantId) ?? 0);
    } catch (error) {
      if (this.db.availability?.available !== false) this.logger.warn({ err: error }, 'reading the summaries failed');
    } finally {
      this.running = false;
    }
  }

  private send(tenantId: string, summary: Summary, streams: number): void {
    const { at: _at, ...figures } = summary;
    const key = JSON.stringify(figures);
    const last = this.sent.get(tenantId);
    if (last && last.key === key && last.streams >= streams) {
      last.streams = streams;
      return;
    }
    this.sent.set(tenantId, { key, streams });
    this.streams.broadcast(tenantId, 'summary', summary);
  }

  close(): void {
    clearInterval(this.timer);
  }
}
