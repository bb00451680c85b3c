// presence.agent_day: one agent's day in the tenant's time zone (events, totals per status and reason).
import type { AgentDay, AgentStatus, HistoryEvent } from '../../http/contract.ts';
import type { Database } from '../../database/handle.ts';

interface DayRow {
  day: string;
  time_zone: string;
  range_from: Date;
  range_to: Date;
  status_at_start: AgentStatus;
  events: HistoryEvent[];
  totals: AgentDay['totals'];
}

/** `date` YYYY-MM-DD, or null for today in the tenant's time zone. */
export async function agentDay(db: Database, tenantId: string, agentId: string, date: string | null): Promise<AgentDay> {
  const { rows } = await db.query<DayRow>(
    `select to_char(day, 'YYYY-MM-DD') as day, time_zone, range_from, range_to, status_at_start, events, totals
       from presence.agent_day($1, $2, $3::date)`,
    [tenantId, agentId, date],
  );
  const row = rows[0]!;
  return {
    agentId,
    date: row.day,
    timeZone: row.time_zone,
    from: row.range_from.toISOString(),
    to: row.range_to.toISOString(),
    statusAtStart: row.status_at_start,
    // json_build_object renders timestamptz in the session's format; hand out ISO 8601 UTC like everywhere else.
    events: row.events.map((e) => ({ ...e, at: new Date(e.at).toISOString() })),
    totals: row.totals,
  };
}
