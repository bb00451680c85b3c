// presence.timeouts_due: at the liveness deadline of some watched tenants, the timeouts the liveness rule made since
// each was last asked (no sweep recorded them yet, so no event announces them) and each tenant's next deadline.
import type { Database } from '../../database/handle.ts';
import type { StatusChangeRow } from './status-changes-after.ts';

export interface TimeoutsDue {
  tenantId: string;
  /** The database's now() when it answered. */
  dbNow: Date;
  /** Up to when the answer reports timeouts, to the microsecond (ISO 8601, UTC): pass it back as `after` next time. */
  after: string;
  /** When the tenant should be asked again (database clock); null while none of its agents reads live. */
  nextCheckAt: Date | null;
  /** Shaped as status_changes_after's events, without an id: no event is recorded for them yet. */
  timeouts: Array<Omit<StatusChangeRow, 'id'>>;
}

export async function timeoutsDue(db: Database, tenants: Array<{ tenantId: string; after: string }>): Promise<TimeoutsDue[]> {
  if (tenants.length === 0) return [];
  const { rows } = await db.query<{
    tenant_id: string;
    db_now: Date;
    after: string;
    next_check_at: Date | null;
    timeouts: Array<Omit<StatusChangeRow, 'id'>>;
  }>(
    `select tenant_id, now() as db_now, to_char(checked_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') as after,
            next_check_at, timeouts
       from presence.timeouts_due($1, $2::timestamptz[])`,
    [tenants.map((t) => t.tenantId), tenants.map((t) => t.after)],
    'presence_timeouts_due',
  );
  return rows.map((r) => ({ tenantId: r.tenant_id, dbNow: r.db_now, after: r.after, nextCheckAt: r.next_check_at, timeouts: r.timeouts }));
}
