// presence.set_status: the agent's own choice; returns the effective status.
import type pg from 'pg';

export async function setStatus(db: pg.Pool, tenantId: string, agentId: string, status: string): Promise<string> {
  const { rows } = await db.query<{ status: string }>(
    'select presence.set_status($1::uuid, $2::uuid, $3::text) as status',
    [tenantId, agentId, status],
  );
  return rows[0]!.status;
}
