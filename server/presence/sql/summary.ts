// presence.tenant_summaries: the team at a glance (agents per status and reason, free capacity, the queue), for
// GET summary and the streams' `summary` events of many tenants in one call.
import type { AgentStatus, Summary } from '../../http/contract.ts';
import type { Database } from '../../database/handle.ts';

interface SummaryRow {
  tenant_id: string;
  at: Date;
  statuses: Record<AgentStatus, number>;
  reasons: Summary['reasons'];
  free_capacity: string;
  queued_chats: string;
  oldest_queued_wait_s: number | null;
}

/** The summary of each tenant given, by tenant id. */
export async function tenantSummaries(db: Database, tenantIds: string[]): Promise<Map<string, Summary>> {
  const { rows } = await db.query<SummaryRow>('select * from presence.tenant_summaries($1)', [tenantIds]);
  return new Map(
    rows.map((r) => [
      r.tenant_id,
      {
        at: r.at.toISOString(),
        statuses: r.statuses,
        reasons: r.reasons,
        freeCapacity: Number(r.free_capacity),
        queuedChats: Number(r.queued_chats),
        oldestQueuedWaitS: r.oldest_queued_wait_s,
      },
    ]),
  );
}
