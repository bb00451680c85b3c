// The demo tenant that `npm start` creates on first run: fictional people at example.com. One agent, Jordan,
// is stuck `available` from a browser that vanished two hours ago with 2 of 5 chats: the original bug. The first
// sweep takes Jordan offline (reason timeout), and a minute later the release job returns both chats to the queue.
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
    // Jordan's browser beat once, and took two chats...
    await client.query(`select presence.heartbeat($1, $2, 'demo-browser-of-jordan')`, [tenant, jordan]);
    for (let i = 0; i < 5; i++) await client.query('select presence.open_chat($1)', [tenant]);
    for (let i = 0; i < 2; i++) await client.query('select presence.assign_chat($1)', [tenant]);
    await client.query('commit');
    // ...then vanished two hours ago without a goodbye: only its last beat moves back in time.
    await client.query(
      `with agent as (update public.human_agents set last_seen = last_seen - interval '2 hours' where id = $1)
       update presence_private.sessions set last_seen = last_seen - interval '2 hours' where agent_id = $1`,
      [jordan],
    );
    return { created: true, signIns };
  } catch (error) {
    await client.query('rollback').catch(() => {});
    throw error;
  } finally {
    await client.end();
  }
}
