// `status`: every agent of presence.agent_presence (status derived at read time) with its tenant's name, by tenant
// and name; one tenant's when given.
import type { Database } from '../../database/handle.ts';
import type { AgentPresenceRow } from '../../presence/sql/agents.ts';

export async function agentStatus(db: Database, tenant: string | null): Promise<(AgentPresenceRow & { tenant: string })[]> {
  const { rows } = await db.query<AgentPresenceRow & { tenant: string }>(
    `select p.*, p.tenant_id::text as tenant_id, t.name::text as tenant
       from presence.agent_presence p join public.tenants t on t.id = p.tenant_id
      where $1::text is null or p.tenant_id::text = $1::text
      order by t.name, p.name, p.email`,
    [tenant],
  );
  return rows;
}
