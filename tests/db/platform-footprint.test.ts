// A database adopted before presence's state moved to presence_private.agent_state (1795500000400-420): migrated up
// to 1795500000340, with the old layout (chosen_status, status_reason, status_since, a (tenant_id, id) key, a check
// and two indexes on the platform's public.human_agents, last_seen made timestamptz), used (chosen statuses, tabs,
// events, chats, an account), then migrated the rest of the way. Nothing presence knew is lost, nothing of presence's
// is left on the platform's table, and since the type last_seen had cannot be known any more, the migration keeps
// timestamptz and says in a NOTICE the one statement that gives the platform its timestamp back.
import { cpSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MIGRATIONS_DIR, migrate } from '../../db/migrate.ts';
import { scratchDatabase } from '../helpers/db.ts';

const LAST_OLD_LAYOUT = '1795500000340';

// The seed's platform: varchar keys, status varchar, `last_seen timestamp` holding UTC wall times.
const PLATFORM = `
  create table tenants (id varchar primary key default gen_random_uuid(), name text not null);
  create table human_agents (
    id varchar primary key default gen_random_uuid(),
    tenant_id varchar not null references tenants (id),
    name text not null,
    email text not null,
    status varchar not null default 'offline',
    active_chats integer default 0,
    max_chats integer default 5,
    last_seen timestamp default now()
  );
  insert into tenants (id, name) values ('t-acme', 'Acme');
  insert into human_agents (id, tenant_id, name, email, status, last_seen) values
    ('a-ada', 't-acme', 'Ada', 'ada@acme.example', 'offline', '2026-11-20 09:15:00'),
    ('a-ben', 't-acme', 'Ben', 'ben@acme.example', 'offline', null),
    ('a-cy', 't-acme', 'Cy', 'cy@acme.example', 'dnd', '2026-11-19 08:00:00');`;

let url: string;
let drop: () => Promise<void>;
let owner: pg.Client;
let oldDir: string;
const notices: string[] = [];
let applied: string[];
type Knowledge = Record<'state' | 'tabs' | 'events' | 'chats' | 'users' | 'presence', unknown[]>;
let before: Knowledge;
let after: Knowledge;

/** What presence knew, in either layout; `state` is the agent's row (the platform's before the move, ours after). */
async function knowledge(state: string): Promise<Knowledge> {
  const q = async (sql: string) => (await owner.query(sql)).rows;
  return {
    state: await q(`select agent_id::text, status::text, chosen_status, mechanism, status_since, last_seen, active_chats
                      from (${state}) s order by agent_id`),
    tabs: await q('select * from presence_private.sessions order by agent_id, session_id'),
    // the events' columns of both layouts (what caused a transition was named reason before 1795500000670)
    events: await q(
      `select e.id, e.tenant_id, e.agent_id, e.from_status, e.to_status, e.chosen_status, e.at,
              coalesce(to_jsonb(e) ->> 'mechanism', to_jsonb(e) ->> 'reason') as mechanism
         from presence.status_events e order by e.id`,
    ),
    chats: await q('select * from presence_private.chats order by created_at, id'),
    users: await q('select id, tenant_id, agent_id, email from presence_accounts.users order by email'),
    presence: await q(
      'select agent_id, status, chosen_status, last_seen, active_chats, max_chats, offline_at from presence.agent_presence order by agent_id',
    ),
  };
}

beforeAll(async () => {
  // Setup: the old layout, in a database whose TimeZone is not UTC.
  ({ url, drop } = await scratchDatabase('footprint'));
  owner = new pg.Client({ connectionString: url });
  await owner.connect();
  await owner.query(`alter database ${pg.escapeIdentifier(owner.database!)} set timezone to 'America/New_York'`);
  await owner.query(`set timezone to 'America/New_York'`);
  await owner.query(PLATFORM);
  oldDir = mkdtempSync(join(tmpdir(), 'presence-old-layout-'));
  for (const file of readdirSync(MIGRATIONS_DIR).filter((f) => f.endsWith('.sql') && f.slice(0, 13) <= LAST_OLD_LAYOUT)) {
    cpSync(join(MIGRATIONS_DIR, file), join(oldDir, file));
  }
  await migrate(url, { dir: oldDir });
  const call = (sql: string, params: unknown[]) => owner.query(sql, params);
  await call(`select presence.heartbeat('t-acme', 'a-ada', 'tab-ada', 'active', 'sign-in-ada')`, []);
  await call(`select presence.heartbeat('t-acme', 'a-ben', 'tab-ben')`, []);
  await call(`select presence.set_status('t-acme', 'a-ben', 'away')`, []);
  await call(`select presence.open_chat('t-acme')`, []);
  await call(`select presence.open_chat('t-acme')`, []);
  await call(`select * from presence.assign_chat('t-acme')`, []);
  await call(
    `select presence_accounts.create_account('t-acme', 'dana@acme.example', 'Dana', 'support_staff', 'a long password')`,
    [],
  );
  before = await knowledge(
    `select h.id as agent_id, h.status, h.chosen_status, h.status_reason as mechanism, h.status_since, h.last_seen,
            h.active_chats from public.human_agents h`,
  );

  // Action
  applied = await migrate(url, { onNotice: (m) => notices.push(m) });
  after = await knowledge(
    `select s.agent_id, s.status, s.chosen_status, s.status_mechanism as mechanism, s.status_since, s.last_seen,
            s.active_chats from presence_private.agent_state s`,
  );
}, 120_000);

afterAll(async () => {
  await owner?.end();
  await drop?.();
  if (oldDir) rmSync(oldDir, { recursive: true, force: true });
});

describe('an install of the old layout, migrated to presence_private.agent_state', () => {
  it('applies the move and loses no chosen status, mechanism, tab, event, chat or account', () => {
    // Assertions
    expect(applied).toEqual(
      readdirSync(MIGRATIONS_DIR)
        .filter((f) => f.endsWith('.sql') && f.slice(0, 13) > LAST_OLD_LAYOUT)
        .sort()
        .map((f) => f.replace(/\.sql$/, '')),
    );
    expect(applied.slice(0, 3)).toEqual(['1795500000400_agent-state', '1795500000410_state-functions', '1795500000420_platform-footprint']);
    expect(before.state).toHaveLength(4);
    expect(before.state.filter((s) => (s as { chosen_status: string }).chosen_status === 'away')).toHaveLength(1);
    expect(before.events.length).toBeGreaterThanOrEqual(3);
    expect(before.tabs).toHaveLength(2);
    expect(after).toEqual(before);
  });

  it("leaves nothing of presence's on the platform's table: no column, key, check or index", async () => {
    // Action
    const { rows: columns } = await owner.query(
      `select attname from pg_attribute where attrelid = 'public.human_agents'::regclass and attnum > 0 and not attisdropped
        order by attnum`,
    );
    const { rows: constraints } = await owner.query(
      `select conname from pg_constraint where conrelid = 'public.human_agents'::regclass order by conname`,
    );
    const { rows: indexes } = await owner.query(
      `select indexrelid::regclass::text as name from pg_index where indrelid = 'public.human_agents'::regclass`,
    );

    // Assertions
    expect(columns.map((c) => c.attname)).toEqual(['id', 'tenant_id', 'name', 'email', 'status', 'active_chats', 'max_chats', 'last_seen']);
    expect(constraints.map((c) => c.conname)).toEqual(['human_agents_pkey', 'human_agents_tenant_id_fkey']);
    expect(indexes.map((i) => i.name)).toEqual(['human_agents_pkey']);
  });

  it('keeps last_seen timestamptz, as it cannot know the type it had, and names the statement that restores it', async () => {
    // Setup: the statement the NOTICE names, as a DBA would run it.
    const statement = /(alter table public\.human_agents alter column last_seen type timestamp using last_seen at time zone 'UTC');/.exec(
      notices.join('\n'),
    )?.[1];
    const { rows: type } = await owner.query(
      `select format_type(atttypid, atttypmod) as type from pg_attribute
        where attrelid = 'public.human_agents'::regclass and attname = 'last_seen'`,
    );

    // Action
    await owner.query(statement!);
    const beat = await owner.query(`select * from presence.heartbeat('t-acme', 'a-ada', 'tab-ada', 'active', 'sign-in-ada')`);

    // Assertions: presence works on either type; a timestamp holds UTC wall time in a New York session.
    expect(type[0].type).toBe('timestamp with time zone');
    // The last_seen one, and 1795500000430's: it cannot tell which platform columns an earlier release added either.
    expect(notices).toHaveLength(2);
    expect(notices[1]).toMatch(/^presence cannot tell which of public\.human_agents' columns status, last_seen, active_chats and max_chats it added/);
    const { rows } = await owner.query(
      `select to_char(last_seen, 'YYYY-MM-DD"T"HH24:MI:SS.MS') as wall, current_setting('TimeZone') as zone
         from public.human_agents where id = 'a-ada'`,
    );
    expect(rows[0]).toEqual({
      wall: (beat.rows[0].last_seen as Date).toISOString().replace('Z', ''),
      zone: 'America/New_York',
    });
  });
});
