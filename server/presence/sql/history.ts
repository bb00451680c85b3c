// presence.agent_history: one page of one agent's status timeline in a time range (default: the last 24 hours).
import type { AgentStatus, History, HistoryEvent } from '../../http/contract.ts';
import type { Database } from '../../database/handle.ts';

export interface HistoryQuery {
  from: Date | null;
  to: Date | null;
  /** A nextCursor of an earlier page of the same range; null for the first page. */
  cursor: string | null;
  /** Events per page; null for the function's default. */
  limit: number | null;
}

export async function agentHistory(
  db: Database,
  tenantId: string,
  agentId: string,
  { from, to, cursor, limit }: HistoryQuery,
): Promise<Omit<History, 'agentId'>> {
  const { rows } = await db.query<{
    range_from: Date;
    range_to: Date;
    status_at_start: AgentStatus;
    events: HistoryEvent[];
    next_cursor: string | null;
  }>(
    'select * from presence.agent_history($1, $2, $3::timestamptz, $4::timestamptz, $5::integer, $6::text)',
    [tenantId, agentId, from, to, limit, cursor],
  );
  const row = rows[0]!;
  return {
    from: row.range_from.toISOString(),
    to: row.range_to.toISOString(),
    statusAtStart: row.status_at_start,
    // json_build_object renders timestamptz in the session's format; hand out ISO 8601 UTC like everywhere else.
    events: row.events.map((e) => ({ ...e, at: new Date(e.at).toISOString() })),
    nextCursor: row.next_cursor,
  };
}
