// presence.status_changes_after: the status events after the last one this process read, for the tenants it has
// streams of (a page at a time), with per-mechanism counts of every tenant's events and the ids still in flight.
import type { Actor, AgentStatus, ReasonRef } from '../../http/contract.ts';
import type { Database } from '../../database/handle.ts';

export interface StatusChangeRow {
  id: number;
  tenant: string;
  agent: string;
  from: AgentStatus;
  to: AgentStatus;
  /** Null for events recorded before the chosen status was kept with them. */
  chosen: AgentStatus | null;
  mechanism: string;
  reason: ReasonRef | null;
  actor: Actor | null;
  until: string | null;
  at: string;
}

export interface StatusChangesPage {
  changes: StatusChangeRow[];
  nextAfter: string;
  more: boolean;
  pending: { ids: string[]; xids: string[] };
  /** Events of every tenant in the page, by mechanism as the database wrote it. */
  reasonCounts: Array<[reason: string, count: number]>;
}

export async function statusChangesAfter(
  db: Database,
  after: string | null,
  tenantIds: string[],
  pending: { ids: string[]; xids: string[] },
  limit: number,
): Promise<StatusChangesPage> {
  const { rows } = await db.query<{
    changes: StatusChangeRow[];
    next_after: string;
    more: boolean;
    pending_ids: string[];
    pending_xids: string[];
    reasons: string[];
    reason_counts: number[];
  }>(
    `select changes, next_after, more, pending_ids, pending_xids, reasons, reason_counts
       from presence.status_changes_after($1, $2, $3::bigint[], $4::bigint[], $5)`,
    [after, tenantIds, pending.ids, pending.xids, limit],
    'presence_status_changes_after',
  );
  const row = rows[0]!;
  return {
    changes: row.changes,
    nextAfter: row.next_after,
    more: row.more,
    pending: { ids: row.pending_ids, xids: row.pending_xids },
    reasonCounts: row.reasons.map((reason, i) => [reason, row.reason_counts[i]!]),
  };
}
