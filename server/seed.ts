// The demo tenant that `npm start` creates on first run: fictional people at example.com. One agent, Jordan,
// is stuck `available` from a browser that vanished two hours ago with 2 of 5 chats: the original bug. The first
// sweep takes Jordan offline (reason timeout), recorded at the moment Jordan went silent plus offline_after_s, and,
// Jordan having been offline far longer than the tenant's release_chats_after_s, returns both chats to the queue.
import pg from 'pg';

export const DEMO_TENANT = 'Demo Support (example.com)';
export const DEMO_PASSWORD = 'demo-password';

const PEOPLE = [
  { email: 'alex.admin@example.com', name: 'Alex Admin', role: 'client_admin' },
  { email: 'sam.rivera@example.com', name: 'Sam Rivera', role: 'support_staff' },
  { email: 'priya.patel@example.com', name: 'Priya Patel', role: 'support_staff' },
  { email: 'jordan.lee@example.com', name: 'Jordan Lee', role: 'support_staff' },
  { email: 'chen.wu@example.com', name: 'Chen Wu', role: 'support_staff' },
  { email: 'morgan.supervisor@example.com', name: 'Morgan Supervisor', role: 'supervisor' },
] as const;

const STUCK = 'jordan.lee@example.com';

export interface DemoSignIn {
  email: string;
  name: string;
  role: string;
}

/** Seeds the demo tenant unless it exists; returns its sign-ins (and whether it was created now). */
export async function seedDemo(ownerUrl: string): Promise<{ created: boolean; signIns: DemoSignIn[] }> {
  const signIns = PEOPLE.map(({ email, name, role }) => ({ email, name, role }));
  const client = new pg.Client({ connectionString: ownerUrl });
  await client.connect();
  try {
    const existing = await client.query('select 1 from public.tenants where name = $1', [DEMO_TENANT]);
    if (existing.rowCount) return { created: false, signIns };

    await client.query('begin');
    const tenant = (await client.query<{ id: string }>('select presence_accounts.create_tenant($1) as id', [DEMO_TENANT])).rows[0]!.id;
    const agents = new Map<string, string>();
    for (const person of PEOPLE) {
      const { rows } = await client.query<{ agent_id: string | null }>(
        'select * from presence_accounts.create_account($1, $2, $3, $4, $5, 5)',
        [tenant, person.email, person.name, person.role, DEMO_PASSWORD],
      );
      if (rows[0]!.agent_id) agents.set(person.email, rows[0]!.agent_id);
    }
    const jordan = agents.get(STUCK)!;
    for (let i = 0; i < 5; i++) await client.query('select presence.open_chat($1)', [tenant]);
    // Jordan came online 2 h 2 min ago, took the two oldest chats, and the browser vanished without a goodbye after
    // its last beat 2 h ago. The functions take the database clock, so a past is written as they would have
    // written it then: the status, its history event, the tab and the chats.
    await client.query(
      `with agent as (
         update public.human_agents
            set status = 'available', chosen_status = 'available', status_reason = 'heartbeat',
                status_since = now() - interval '2 hours 2 minutes', last_seen = now() - interval '2 hours',
                active_chats = 2
          where id = $2
       ), event as (
         insert into presence.status_events (tenant_id, agent_id, from_status, to_status, reason, at)
         values ($1, $2, 'offline', 'available', 'heartbeat', now() - interval '2 hours 2 minutes')
       ), tab as (
         insert into presence_private.sessions (agent_id, session_id, tenant_id, activity, started_at, last_seen)
         values ($2, 'demo-browser-of-jordan', $1, 'active', now() - interval '2 hours 2 minutes', now() - interval '2 hours')
       )
       update presence_private.chats c
          set status = 'assigned', agent_id = $2, created_at = now() - interval '2 hours 2 minutes',
              assigned_at = now() - interval '2 hours 1 minute'
        where c.id in (select o.id from presence_private.chats o where o.tenant_id = $1 order by o.created_at, o.id limit 2)`,
      [tenant, jordan],
    );
    await client.query('commit');
    return { created: true, signIns };
  } catch (error) {
    await client.query('rollback').catch(() => {});
    throw error;
  } finally {
    await client.end();
  }
}
