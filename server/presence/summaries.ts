// The streams' `summary` events. A summary costs what changes, like the rest of the streams: it is read (one call of
// presence.tenant_summaries for every tenant concerned) only when something may have changed it, at most once a
// second for the process, and a tenant's streams get it when it differs from the last one sent:
// - a transition the hub sent to a tenant's streams (events and the timeouts and ends it announced): that tenant;
// - a ring of presence_chats (a chat opened, assigned, closed or released; the ring says nothing of which tenant, and
//   carries no authority): every tenant with open streams;
// - a stream that opened: its tenant, so a new console has a summary within a second;
// - the LISTEN connection back after a loss: every tenant with open streams, as anything may have happened.
// With agents beating and nothing changing it reads nothing. The oldest queued chat's wait is sent as of the summary's
// `at`; a console counts it up itself. Nothing decides here: the figures are the database's.
import type { Logger } from 'pino';
import type { Summary } from '../http/contract.ts';
import type { Database } from '../database/handle.ts';
import { Coalesced } from './coalesce.ts';
import type { ChangeListener } from './listener.ts';
import { tenantSummaries } from './sql/summary.ts';
import type { StreamHub } from './streams.ts';

/** At most one read of the summaries per this many ms, however many changes arrive: "live" for a person. */
const SUMMARY_INTERVAL_MS = 1_000;

export class SummaryFeed {
  private readonly reads: Coalesced;
  /** Tenants whose summary may have changed since it was last read. */
  private dirty = new Set<string>();
  /** Per tenant: the last summary sent (its figures, without `at`, and the oldest chat's queueing moment). */
  private readonly sent = new Map<string, string>();
  private readonly onEverything = () => this.markAll();

  constructor(
    private readonly db: Database,
    private readonly streams: StreamHub,
    private readonly listener: ChangeListener,
    private readonly logger: Logger,
    intervalMs = SUMMARY_INTERVAL_MS,
  ) {
    this.reads = new Coalesced(() => this.read(), intervalMs);
    streams.onTenantChange((tenantId) => this.mark(tenantId));
    listener.on('chats', this.onEverything);
    listener.on('listening', this.onEverything);
  }

  /** Something happened to a tenant's streams: its summary is read and sent (a new console needs one as it is). */
  private mark(tenantId: string): void {
    this.sent.delete(tenantId);
    this.dirty.add(tenantId);
    this.reads.ring();
  }

  private markAll(): void {
    for (const tenantId of this.streams.openTenants().keys()) this.dirty.add(tenantId);
    this.reads.ring();
  }

  private async read(): Promise<void> {
    const open = this.streams.openTenants();
    for (const tenantId of [...this.sent.keys()]) if (!open.has(tenantId)) this.sent.delete(tenantId);
    const asked = [...this.dirty].filter((tenantId) => open.has(tenantId));
    this.dirty = new Set();
    if (asked.length === 0) return;
    try {
      const summaries = await tenantSummaries(this.db, asked);
      for (const [tenantId, summary] of summaries) this.send(tenantId, summary);
    } catch (error) {
      for (const tenantId of asked) this.dirty.add(tenantId);
      if (this.db.availability?.available !== false) this.logger.warn({ err: error }, 'reading the summaries failed');
    }
  }

  private send(tenantId: string, summary: Summary): void {
    const { at, oldestQueuedWaitS, ...figures } = summary;
    // The oldest chat's wait grows by itself; what changes it otherwise is which chat is the oldest.
    const oldestQueuedAt = oldestQueuedWaitS === null ? null : Math.round(Date.parse(at) / 1000) - oldestQueuedWaitS;
    const key = JSON.stringify({ ...figures, oldestQueuedAt });
    if (this.sent.get(tenantId) === key) return;
    this.sent.set(tenantId, key);
    this.streams.broadcast(tenantId, 'summary', summary);
  }

  close(): void {
    this.reads.close();
    this.listener.off('chats', this.onEverything);
    this.listener.off('listening', this.onEverything);
  }
}
