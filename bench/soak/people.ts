// The soak's people: tenants, agents and supervisors made through presence_accounts, and their sign-ins and
// sign-outs over HTTP.
import { randomUUID } from 'node:crypto';
import type { Database } from './database.ts';
import { PASSWORD, type Options } from './options.ts';

export interface Person {
  email: string;
  tenant: string;
  agentId: string | null;
  cookie: string;
  tab: string;
  /** Signing out and in: its beats wait. */
  busy: boolean;
}

/** Tenants, agents and supervisors, made through presence_accounts as an operator would (bcrypt cost 4 meanwhile). */
export async function seed(db: Database, o: Options, releaseChatsAfterS = 60): Promise<{ agents: Person[]; supervisors: Person[]; tenants: string[] }> {
  await db.owner.query('select presence_accounts.configure_sign_in(p_bcrypt_cost => 4, p_window_s => 60)');
  const tenants: string[] = [];
  const agents: Person[] = [];
  const supervisors: Person[] = [];
  const perTenant = Math.ceil(o.agents / o.tenants);
  for (let t = 0; t < o.tenants; t++) {
    const { rows } = await db.owner.query<{ id: string }>('select presence_accounts.create_tenant($1) as id', [`Soak ${t + 1}`]);
    const tenant = rows[0]!.id;
    tenants.push(tenant);
    await db.owner.query('select presence.configure_tenant($1, $2, $3, $4, $5)', [tenant, o.intervalS, o.intervalS * 3, 300, releaseChatsAfterS]);
    const made = await db.owner.query<{ email: string; agent_id: string }>(
      `select e.email, (presence_accounts.create_account($1, e.email, 'Agent ' || i, 'support_staff', $2, 5)).agent_id::text
         from generate_series($3::int, $4::int) i, lateral (select 'agent-' || i || '@soak.example' as email) e`,
      [tenant, PASSWORD, t * perTenant + 1, Math.min((t + 1) * perTenant, o.agents)],
    );
    for (const r of made.rows) agents.push({ email: r.email, tenant, agentId: r.agent_id, cookie: '', tab: randomUUID(), busy: false });
    for (let s = 1; s <= o.supervisors; s++) {
      const email = `supervisor-${t + 1}-${s}@soak.example`;
      await db.owner.query(`select presence_accounts.create_account($1, $2, 'Supervisor', 'supervisor', $3)`, [tenant, email, PASSWORD]);
      supervisors.push({ email, tenant, agentId: null, cookie: '', tab: '', busy: false });
    }
  }
  return { agents, supervisors, tenants };
}

export async function signIn(base: string, email: string, password = PASSWORD, address?: string): Promise<{ status: number; cookie: string | null; ms: number }> {
  const started = performance.now();
  const res = await fetch(`${base}/api/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(address ? { 'x-forwarded-for': address } : {}) },
    body: JSON.stringify({ email, password }),
  });
  await res.arrayBuffer();
  const ms = performance.now() - started;
  const cookie = res.headers.getSetCookie().find((c) => c.startsWith('presence_session='))?.split(';')[0] ?? null;
  return { status: res.status, cookie, ms };
}

export async function signOut(base: string, cookie: string): Promise<number> {
  const res = await fetch(`${base}/api/auth/logout`, { method: 'POST', headers: { cookie } });
  await res.arrayBuffer();
  return res.status;
}

export async function inParallel<T>(items: T[], width: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < items.length) await work(items[next++]!);
    }),
  );
}
