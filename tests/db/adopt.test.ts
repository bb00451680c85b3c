// Adopting a platform (issues 9 and 18): the migrations run on a database that already has the platform's
// public.tenants and public.human_agents, with rows. Each shape below is a platform as it would have made its tables,
// in a database of its own, before `migrate(url)`:
//   uuid     uuid keys, status text under the platform's own check constraint, active/max chats present;
//   seed     the original design's platform (Drizzle): varchar keys holding uuids, status varchar, no chosen status,
//            and `last_seen timestamp` (without time zone) holding UTC times, migrated in a database whose
//            TimeZone is not UTC, so that reading the times as local time would show;
//   text     text keys chosen by the platform, status text, last_seen timestamptz;
//   integer  serial keys, status text, active/max chats present, no last_seen;
//   bigint   Rails-style bigserial keys, status an enum, no active/max chats, no last_seen.
// For each: every value of every platform column is the same afterwards, of the same type (the seed's last_seen is
// `timestamp` again after 1795500000420), presence's state lives in presence_private.agent_state and the platform's
// table keeps none of presence's columns, constraints or indexes (only the columns a platform lacked and presence
// writes: last_seen, active_chats, max_chats), a second migrate() changes nothing, and the whole SQL API works with
// the platform's own ids passed as strings, as presence_app. Then the platforms the migration must refuse, and the
// plans on the platform's own primary key.
import { readdirSync } from 'node:fs';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MIGRATIONS_DIR, migrate } from '../../db/migrate.ts';
import { listenTo, newestEventId, scratchDatabase, statusChangesSince } from '../helpers/db.ts';

interface Shape {
  name: string;
  /** The platform's own DDL and rows. */
  platform: string;
  /** TimeZone of the platform's database (every session in it, the migration's included). */
  timeZone?: string;
  /** Columns presence needs that this platform's public.human_agents lacks: presence keeps them in its own state. */
  lacking: Array<'last_seen' | 'active_chats' | 'max_chats'>;
  /** The platform's primary key index on human_agents. */
  agentPkey: string;
}

const AGENTS = ['Ada', 'Ben', 'Cy', 'Dee', 'Eve'] as const;
type AgentName = (typeof AGENTS)[number];

// Two tenants: Acme with Ada (available), Ben (dnd), Cy (offline); Globex with Dee (away) and Eve (available). No
// agent has beaten under presence yet: Ada and Eve are what the original design calls ghosts.
const SHAPES: Shape[] = [
  {
    name: 'uuid',
    platform: `
      create table tenants (
        id uuid primary key default gen_random_uuid(),
        name text not null,
        plan text not null default 'starter',
        created_at timestamptz not null default now()
      );
      create table human_agents (
        id uuid constraint human_agents_pk primary key default gen_random_uuid(),
        tenant_id uuid not null references tenants (id) on delete cascade,
        name text not null,
        email text not null,
        status text not null default 'offline'
          constraint agent_status_allowed check (status in ('available', 'away', 'dnd', 'offline')),
        active_chats integer not null default 0,
        max_chats integer not null default 3,
        skills text[] not null default '{}',
        created_at timestamptz not null default now()
      );
      create index human_agents_tenant_idx on human_agents (tenant_id);
      insert into tenants (id, name, plan, created_at) values
        ('7d3f5a2e-1111-4000-8000-000000000001', 'Acme', 'pro', '2026-01-02 03:04:05.678901+00'),
        ('7d3f5a2e-1111-4000-8000-000000000002', 'Globex', 'starter', '2026-02-03 04:05:06+00');
      insert into human_agents (id, tenant_id, name, email, status, active_chats, max_chats, skills, created_at) values
        ('0a000000-0000-4000-8000-00000000000a', '7d3f5a2e-1111-4000-8000-000000000001', 'Ada', 'ada@acme.example', 'available', 0, 3, '{billing,returns}', '2026-03-01 10:00+00'),
        ('0b000000-0000-4000-8000-00000000000b', '7d3f5a2e-1111-4000-8000-000000000001', 'Ben', 'ben@acme.example', 'dnd', 1, 3, '{}', '2026-03-01 10:00+00'),
        ('0c000000-0000-4000-8000-00000000000c', '7d3f5a2e-1111-4000-8000-000000000001', 'Cy', 'cy@acme.example', 'offline', 0, 3, '{}', '2026-03-01 10:00+00'),
        ('0d000000-0000-4000-8000-00000000000d', '7d3f5a2e-1111-4000-8000-000000000002', 'Dee', 'dee@globex.example', 'away', 0, 2, '{}', '2026-03-01 10:00+00'),
        ('0e000000-0000-4000-8000-00000000000e', '7d3f5a2e-1111-4000-8000-000000000002', 'Eve', 'eve@globex.example', 'available', 2, 2, '{}', '2026-03-01 10:00+00');`,
    lacking: ['last_seen'],
    agentPkey: 'human_agents_pk',
  },
  {
    name: 'seed',
    platform: `
      create table tenants (
        id varchar primary key default gen_random_uuid(),
        name text not null,
        created_at timestamp default now()
      );
      create table human_agents (
        id varchar primary key default gen_random_uuid(),
        tenant_id varchar not null references tenants (id),
        name text not null,
        email text not null,
        status varchar not null default 'offline',
        active_chats integer default 0,
        max_chats integer default 5,
        created_at timestamp default now(),
        last_seen timestamp default now()
      );
      insert into tenants (name, created_at) values ('Acme', '2026-01-02 03:04:05'), ('Globex', '2026-02-03 04:05:06');
      insert into human_agents (tenant_id, name, email, status, active_chats, max_chats, created_at, last_seen)
      select t.id, a.name, a.email, a.status, a.active_chats, a.max_chats, '2026-03-01 10:00', a.last_seen::timestamp
        from (values
          ('Acme', 'Ada', 'ada@acme.example', 'available', 0, 5, '2026-11-20 09:15:00'),
          ('Acme', 'Ben', 'ben@acme.example', 'dnd', 1, 5, '2026-11-20 09:16:30.123456'),
          ('Acme', 'Cy', 'cy@acme.example', 'offline', 0, 5, null),
          ('Globex', 'Dee', 'dee@globex.example', 'away', 0, 3, '2026-11-19 23:59:59'),
          ('Globex', 'Eve', 'eve@globex.example', 'available', 2, 3, '2026-11-20 12:00:00')
        ) a(tenant, name, email, status, active_chats, max_chats, last_seen)
        join tenants t on t.name = a.tenant;`,
    timeZone: 'Asia/Kolkata',
    lacking: [],
    agentPkey: 'human_agents_pkey',
  },
  {
    name: 'text',
    platform: `
      create table tenants (id text primary key, name text not null);
      create table human_agents (
        id text primary key,
        tenant_id text not null references tenants (id) on delete cascade,
        name text not null,
        email text not null,
        status text not null default 'offline',
        active_chats integer not null default 0,
        max_chats integer not null default 4,
        last_seen timestamptz
      );
      insert into tenants (id, name) values ('acme', 'Acme'), ('globex', 'Globex');
      insert into human_agents (id, tenant_id, name, email, status, active_chats, last_seen) values
        ('ada', 'acme', 'Ada', 'ada@acme.example', 'available', 0, '2026-11-20 09:15:00+00'),
        ('ben', 'acme', 'Ben', 'ben@acme.example', 'dnd', 1, '2026-11-20 09:16:30+00'),
        ('cy', 'acme', 'Cy', 'cy@acme.example', 'offline', 0, null),
        ('dee', 'globex', 'Dee', 'dee@globex.example', 'away', 0, '2026-11-19 23:59:59+00'),
        ('eve', 'globex', 'Eve', 'eve@globex.example', 'available', 2, null);`,
    lacking: [],
    agentPkey: 'human_agents_pkey',
  },
  {
    name: 'integer',
    platform: `
      create table tenants (id serial primary key, name text not null);
      create table human_agents (
        id serial primary key,
        tenant_id integer not null references tenants (id),
        name text not null,
        email text not null,
        status text not null default 'offline',
        active_chats integer not null default 0,
        max_chats integer not null default 2
      );
      insert into tenants (name) values ('Acme'), ('Globex');
      insert into human_agents (tenant_id, name, email, status, active_chats) values
        (1, 'Ada', 'ada@acme.example', 'available', 0),
        (1, 'Ben', 'ben@acme.example', 'dnd', 1),
        (1, 'Cy', 'cy@acme.example', 'offline', 0),
        (2, 'Dee', 'dee@globex.example', 'away', 0),
        (2, 'Eve', 'eve@globex.example', 'available', 2);`,
    lacking: ['last_seen'],
    agentPkey: 'human_agents_pkey',
  },
  {
    name: 'bigint',
    platform: `
      create type availability as enum ('offline', 'available', 'away', 'dnd');
      create table tenants (
        id bigserial primary key,
        name character varying not null,
        created_at timestamp(6) not null,
        updated_at timestamp(6) not null
      );
      create table human_agents (
        id bigserial constraint human_agents_pkey primary key,
        tenant_id bigint not null constraint fk_rails_0123456789 references tenants (id),
        name character varying not null,
        email character varying not null,
        status availability not null default 'offline',
        created_at timestamp(6) not null,
        updated_at timestamp(6) not null
      );
      create unique index index_human_agents_on_tenant_id_and_email on human_agents (tenant_id, email);
      insert into tenants (id, name, created_at, updated_at) values
        (41, 'Acme', '2026-01-02 03:04:05.678901', '2026-01-02 03:04:05.678901'),
        (42, 'Globex', '2026-02-03 04:05:06', '2026-02-03 04:05:06');
      select setval('tenants_id_seq', 42);
      insert into human_agents (id, tenant_id, name, email, status, created_at, updated_at) values
        (7, 41, 'Ada', 'ada@acme.example', 'available', '2026-03-01 10:00', '2026-03-01 10:00'),
        (8, 41, 'Ben', 'ben@acme.example', 'dnd', '2026-03-01 10:00', '2026-03-01 10:00'),
        (9, 41, 'Cy', 'cy@acme.example', 'offline', '2026-03-01 10:00', '2026-03-01 10:00'),
        (10, 42, 'Dee', 'dee@globex.example', 'away', '2026-03-01 10:00', '2026-03-01 10:00'),
        (11, 42, 'Eve', 'eve@globex.example', 'available', '2026-03-01 10:00', '2026-03-01 10:00');
      select setval('human_agents_id_seq', 11);`,
    lacking: ['active_chats', 'max_chats', 'last_seen'],
    agentPkey: 'human_agents_pkey',
  },
];

// Platform snapshots -------------------------------------------------------------------------------------------------

interface Column {
  table: string;
  column: string;
  type: string;
  not_null: boolean;
  default: string | null;
}

interface Platform {
  columns: Column[];
  constraints: string[];
  indexes: string[];
  tenants: Array<Record<string, unknown>>;
  agents: Array<Record<string, unknown>>;
  /** human_agents.last_seen as an instant (epoch seconds, text), read as UTC where it is a timestamp. */
  lastSeen: Record<string, string | null>;
}

async function snapshot(client: pg.Client): Promise<Platform> {
  const { rows: columns } = await client.query<Column>(
    `select c.relname as table, a.attname as column, format_type(a.atttypid, a.atttypmod) as type,
            a.attnotnull as not_null, pg_get_expr(d.adbin, d.adrelid) as default
       from pg_attribute a
       join pg_class c on c.oid = a.attrelid
       left join pg_attrdef d on d.adrelid = a.attrelid and d.adnum = a.attnum
      where c.oid in ('public.tenants'::regclass, 'public.human_agents'::regclass) and a.attnum > 0 and not a.attisdropped
      order by c.relname, a.attnum`,
  );
  const { rows: constraints } = await client.query<{ def: string }>(
    `select conrelid::regclass || ' ' || conname || ' ' || pg_get_constraintdef(oid) as def from pg_constraint
      where conrelid in ('public.tenants'::regclass, 'public.human_agents'::regclass) order by 1`,
  );
  const { rows: indexes } = await client.query<{ def: string }>(
    `select pg_get_indexdef(indexrelid) as def from pg_index
      where indrelid in ('public.tenants'::regclass, 'public.human_agents'::regclass) order by 1`,
  );
  const { rows: tenants } = await client.query<{ row: Record<string, unknown> }>(
    'select to_jsonb(t) as row from public.tenants t order by t.id',
  );
  const { rows: agents } = await client.query<{ row: Record<string, unknown> }>(
    'select to_jsonb(h) as row from public.human_agents h order by h.id',
  );
  const hasLastSeen = columns.find((c) => c.table === 'human_agents' && c.column === 'last_seen');
  const lastSeen: Record<string, string | null> = {};
  if (hasLastSeen) {
    const instant =
      hasLastSeen.type === 'timestamp without time zone' ? `h.last_seen at time zone 'UTC'` : 'h.last_seen';
    const { rows } = await client.query<{ name: string; epoch: string | null }>(
      `select h.name, extract(epoch from ${instant})::text as epoch from public.human_agents h`,
    );
    for (const r of rows) lastSeen[r.name] = r.epoch;
  }
  return {
    columns,
    constraints: constraints.map((c) => c.def),
    indexes: indexes.map((i) => i.def),
    tenants: tenants.map((t) => t.row),
    agents: agents.map((a) => a.row),
    lastSeen,
  };
}

/** The rows restricted to the given keys: a platform's columns in a snapshot taken after the migration. */
function only(rows: Array<Record<string, unknown>>, keys: string[]): Array<Record<string, unknown>> {
  return rows.map((row) => Object.fromEntries(keys.map((k) => [k, row[k]])));
}

async function connect(url: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  return client;
}

async function platformDatabase(prefix: string, ddl: string, timeZone?: string) {
  const scratch = await scratchDatabase(prefix);
  const owner = await connect(scratch.url);
  if (timeZone) {
    await owner.query(`alter database ${pg.escapeIdentifier(owner.database!)} set timezone to ${pg.escapeLiteral(timeZone)}`);
  }
  await owner.query(ddl);
  return { ...scratch, owner };
}

// The shapes ---------------------------------------------------------------------------------------------------------

describe.each(SHAPES)('adopting a platform with $name keys', (shape) => {
  let url: string;
  let owner: pg.Client;
  let drop: () => Promise<void>;
  let before: Platform;
  let afterFirst: Platform;
  let applied: string[];
  const ids = {} as Record<AgentName | 'Acme' | 'Globex', string>;

  beforeAll(async () => {
    const db = await platformDatabase(`adopt_${shape.name}`, shape.platform, shape.timeZone);
    ({ url, owner, drop } = db);
    before = await snapshot(owner);
    applied = await migrate(url);
    // A session's TimeZone is read when it starts: the snapshot after the migration reads as the one before did.
    afterFirst = await snapshot(owner);
    const { rows } = await owner.query<{ name: string; id: string }>(
      'select name, id::text as id from public.human_agents union all select name, id::text from public.tenants',
    );
    for (const r of rows) ids[r.name as AgentName] = r.id;
  }, 120_000);
  afterAll(async () => {
    await owner?.end();
    await drop?.();
  });

  it('applies every migration and keeps every value of every platform column', async () => {
    // Assertions
    expect(applied).toEqual(
      readdirSync(MIGRATIONS_DIR)
        .filter((f) => f.endsWith('.sql'))
        .sort()
        .map((f) => f.replace(/\.sql$/, '')),
    );
    if (shape.timeZone) {
      // The migration's sessions read timestamps in this zone: last_seen must not be read in it.
      const fresh = await connect(url);
      expect((await fresh.query('show timezone')).rows[0].TimeZone).toBe(shape.timeZone);
      await fresh.end();
    }
    const tenantKeys = before.columns.filter((c) => c.table === 'tenants').map((c) => c.column);
    const agentKeys = before.columns.filter((c) => c.table === 'human_agents').map((c) => c.column);
    expect(only(afterFirst.tenants, tenantKeys)).toEqual(before.tenants);
    expect(only(afterFirst.agents, agentKeys)).toEqual(before.agents);
    // A platform without last_seen still has none: presence keeps its own (agent_state), empty until the first beat.
    expect(afterFirst.lastSeen).toEqual(before.lastSeen);
    if (shape.name === 'seed') {
      // 1795500000000 made it timestamptz, 1795500000420 gave the platform its timestamp back: the same wall times.
      expect(before.lastSeen.Ada).toBe(String(Date.parse('2026-11-20T09:15:00Z') / 1000) + '.000000');
    }
  });

  it('keeps the platform\'s columns, constraints and indexes, and adds none', async () => {
    // Assertions: exactly the platform's columns, even those of a platform that lacked some presence needs.
    expect(afterFirst.columns).toEqual(before.columns);
    // Nothing of presence's on the platform's table: no column, key, check or index of its own.
    expect(afterFirst.constraints.filter((c) => !before.constraints.includes(c))).toEqual([]);
    expect(before.constraints.filter((c) => !afterFirst.constraints.includes(c))).toEqual([]);
    expect(afterFirst.indexes).toEqual(before.indexes);
    // A Do Not Disturb or Away the platform had set was chosen by hand: heartbeats keep it. Presence keeps it in its
    // own table, with the platform's status and chats.
    const { rows } = await owner.query(
      `select h.name, s.status, s.chosen_status,
              s.active_chats = coalesce((to_jsonb(h) ->> 'active_chats')::integer, 0) as chats_kept,
              c.max_chats = coalesce((to_jsonb(h) ->> 'max_chats')::integer, 5) as capacity_kept,
              s.max_chats is null as capacity_on_platform
         from public.human_agents h join presence_private.agent_state s on s.agent_id = h.id
         join presence_private.agent_capacity c on c.agent_id = h.id order by h.name`,
    );
    // A platform that lacks max_chats: presence keeps the capacity (the 5 it had given it), and set_capacity sets it.
    const capacity = { chats_kept: true, capacity_kept: true, capacity_on_platform: !shape.lacking.includes('max_chats') };
    expect(rows).toEqual([
      { name: 'Ada', status: 'available', chosen_status: 'available', ...capacity },
      { name: 'Ben', status: 'dnd', chosen_status: 'dnd', ...capacity },
      { name: 'Cy', status: 'offline', chosen_status: 'available', ...capacity },
      { name: 'Dee', status: 'away', chosen_status: 'away', ...capacity },
      { name: 'Eve', status: 'available', chosen_status: 'available', ...capacity },
    ]);
  });

  it('a second migrate() applies nothing and changes nothing', async () => {
    // Setup
    const fingerprint = async () =>
      (
        await owner.query(
          `select md5(string_agg(x, ',' order by x)) as f from (
             select p.oid::regprocedure::text || md5(p.prosrc) as x from pg_proc p
               join pg_namespace n on n.oid = p.pronamespace where n.nspname like 'presence%'
             union all select c.oid::regclass::text || c.relkind::text || coalesce(array_to_string(c.reloptions, ','), '')
               from pg_class c join pg_namespace n on n.oid = c.relnamespace
              where n.nspname in ('public', 'presence', 'presence_private', 'presence_accounts')
             union all select t.oid::regtype::text from pg_type t join pg_namespace n on n.oid = t.typnamespace
              where n.nspname like 'presence%') s`,
        )
      ).rows[0].f as string;
    const schemaBefore = await fingerprint();
    const rowsBefore = await snapshot(owner);

    // Action
    const second = await migrate(url);

    // Assertions
    expect(second).toEqual([]);
    expect(await fingerprint()).toBe(schemaBefore);
    expect(await snapshot(owner)).toEqual(rowsBefore);
  }, 60_000);

  it('runs the whole SQL API with the platform\'s own ids passed as strings', async () => {
    // Setup: the app's calls as presence_app, the owner's (sweep, release, settings) as the owner.
    const app = await connect(url);
    await app.query('set role presence_app');
    const statuses = await listenTo('presence_status', url);
    const signOuts = await listenTo('presence_sign_in_ended', url);
    const firstEvent = await newestEventId(app);
    const { Acme, Globex, Ada, Ben, Dee, Eve } = ids;
    const one = async (sql: string, params: unknown[]) => (await app.query(sql, params)).rows[0];
    const statusOf = async (agent: string) =>
      (await owner.query('select status::text as status from public.human_agents where id = $1', [agent])).rows[0].status as string;
    try {
      // Action / Assertions: beats, one by one and batched.
      await owner.query('select presence.configure_tenant($1, p_release_chats_after_s => 3600)', [Acme]);
      expect((await one('select * from presence.heartbeat($1, $2, $3, $4, $5)', [Acme, Ada, 'tab-ada', 'active', 'ada-1'])).status).toBe(
        'available',
      );
      const batch = await app.query('select * from presence.heartbeats($1, $2, $3, $4, $5)', [
        [Acme, Acme, Globex],
        [Ada, Ben, Dee],
        ['tab-ada', 'tab-ben', 'tab-dee'],
        ['active', 'active', 'idle'],
        ['ada-1', 'ben-1', null],
      ]);
      expect(batch.rows.map((r) => [r.ord, r.status])).toEqual([
        [1, 'available'],
        [2, 'dnd'],
        [3, 'away'],
      ]);
      // The platform's own status column says what presence decided (its code reads it unchanged).
      expect(await statusOf(Ada)).toBe('available');

      // The agent's choice, the readers.
      expect((await one('select presence.set_status($1, $2, $3) as s', [Acme, Ada, 'away'])).s).toBe('away');
      expect(await statusOf(Ada)).toBe('away');
      expect((await one('select presence.set_status($1, $2, $3) as s', [Acme, Ada, 'available'])).s).toBe('available');
      const { rows: presence } = await app.query(
        'select agent_id::text, name, status, chosen_status from presence.agent_presence where tenant_id = $1 order by name',
        [Acme],
      );
      expect(presence).toEqual([
        { agent_id: Ada, name: 'Ada', status: 'available', chosen_status: 'available' },
        { agent_id: Ben, name: 'Ben', status: 'dnd', chosen_status: 'dnd' },
        { agent_id: ids.Cy, name: 'Cy', status: 'offline', chosen_status: 'available' },
      ]);
      expect((await app.query('select * from presence.settings where tenant_id = $1', [Globex])).rows).toEqual([
        expect.objectContaining({ heartbeat_interval_s: 30, offline_after_s: 90, away_after_s: 300, release_chats_after_s: 60 }),
      ]);

      // Chats: open, assign (Ada is the one available agent of Acme), close, assign again.
      const chat1 = (await one('select presence.open_chat($1) as id', [Acme])).id;
      const chat2 = (await one('select presence.open_chat($1) as id', [Acme])).id;
      const assigned = await one('select chat_id, agent_id::text from presence.assign_chat($1)', [Acme]);
      expect(assigned).toEqual({ chat_id: chat1, agent_id: Ada });
      await app.query('select presence.close_chat($1, $2)', [Acme, chat1]);
      expect((await one('select chat_id from presence.assign_chat($1)', [Acme])).chat_id).toBe(chat2);

      // Leaving and signing out; the release of an offline agent's chats.
      expect((await one('select presence.end_session($1, $2, $3) as s', [Acme, Ada, 'tab-ada'])).s).toBe('offline');
      const { rows: released } = await owner.query('select presence.release_chats($1) as n', [Ada]);
      expect(released[0].n).toBe(1);
      // Presence's count, and the platform's where it has the column.
      expect(
        (await owner.query(
          `select s.active_chats, (to_jsonb(h) ->> 'active_chats')::integer as platform
             from public.human_agents h join presence_private.agent_state s on s.agent_id = h.id where h.id = $1`,
          [Ada],
        )).rows[0],
      ).toEqual({ active_chats: 0, platform: shape.lacking.includes('active_chats') ? null : 0 });
      expect((await one('select presence.end_sign_in($1, $2, $3) as s', [Acme, Ben, 'ben-1'])).s).toBe('offline');

      // The owner's sweep, with its clock: Dee went silent, Eve (a ghost of the platform) never beat.
      const { rows: swept } = await owner.query(`select presence.sweep_stale_agents(now() + interval '1 hour') as n`);
      expect(swept[0].n).toBe(2);
      expect([await statusOf(Dee), await statusOf(Eve)]).toEqual(['offline', 'offline']);

      // History and reports by the platform's ids.
      const { rows: history } = await app.query(
        `select status_at_start, events from presence.agent_history($1, $2, now() - interval '31 days')`,
        [Acme, Ada],
      );
      expect(history[0].events.map((e: { to: string; mechanism: string }) => `${e.to}/${e.mechanism}`)).toEqual([
        'offline/timeout', // a ghost of the platform: recorded offline when presence first saw it
        'available/heartbeat',
        'away/manual',
        'available/manual',
        'offline/left',
      ]);
      if (shape.name === 'seed') {
        // Silent since the platform's last_seen (09:15 UTC): offline from 90 s later, whatever the session's time zone.
        expect(new Date(history[0].events[0].at)).toEqual(new Date('2026-11-20T09:16:30Z'));
      }
      const { rows: report } = await app.query(
        `select status, round(sum(seconds) / 3600.0, 1)::text as hours from presence.time_in_status
          where tenant_id = $1 and agent_id = $2 group by status order by status`,
        [Acme, Ada],
      );
      expect(report.map((r) => r.status)).toEqual(['available', 'away', 'offline']);

      // The channels ring with nothing in them; what a server reads on a ring carries the platform's ids as strings.
      await statuses.until((received) => received.length >= 1);
      await signOuts.until((received) => received.length >= 1);
      expect(new Set(statuses.received)).toEqual(new Set(['']));
      expect(signOuts.received).toEqual(['']);
      const changes = await statusChangesSince(app, firstEvent, [Acme, Globex]);
      const known = new Set(Object.values(ids));
      expect(changes.length).toBeGreaterThanOrEqual(12);
      for (const change of changes) {
        expect(typeof change.tenant).toBe('string');
        expect(typeof change.agent).toBe('string');
        expect(known.has(change.tenant) && known.has(change.agent)).toBe(true);
      }
      expect(changes.filter((c) => c.agent === Ada && c.mechanism === 'left')).toEqual([
        expect.objectContaining({ tenant: Acme, agent: Ada, from: 'available', to: 'offline', chosen: 'available' }),
      ]);
      const { rows: ended } = await app.query('select tenant_id, sign_in from presence.sign_ins_ended($1, $2)', [
        [Acme, Acme, Globex],
        ['ben-1', 'ada-1', 'ben-1'],
      ]);
      expect(ended).toEqual([{ tenant_id: Acme, sign_in: 'ben-1' }]);
    } finally {
      await statuses.stop();
      await signOuts.stop();
      await app.end();
    }
  });

  it.runIf(!shape.lacking.includes('last_seen'))("an agent the platform added after adoption, kept available by its own code, is timed out at last_seen + offline_after_s when presence first meets it", async () => {
    // Setup: the platform's own code made Fay and her row says available, seen 10 minutes ago (written in UTC, as
    // the platform writes a timestamp; presence reads either type).
    const { Acme } = ids;
    const platform = await connect(url);
    let fay: string;
    let written: Date;
    try {
      await platform.query(`set timezone to 'UTC'`);
      const extra = shape.name === 'text' ? { cols: ', id', vals: `, 'fay'` }
        : shape.name === 'bigint' ? { cols: ', created_at, updated_at', vals: ', now(), now()' }
        : { cols: '', vals: '' };
      const { rows } = await platform.query<{ id: string; last_seen: Date }>(
        `insert into public.human_agents (tenant_id, name, email, status, last_seen${extra.cols})
         values ($1, 'Fay', 'fay@acme.example', 'available', now() - interval '10 minutes'${extra.vals})
         returning id::text, last_seen::timestamptz`,
        [Acme],
      );
      fay = rows[0]!.id;
      written = rows[0]!.last_seen;
    } finally {
      await platform.end();
    }

    // Action
    const { rows: beat } = await owner.query('select * from presence.heartbeat($1, $2, $3)', [Acme, fay, 'tab-fay']);

    // Assertions
    const { rows } = await owner.query('select mechanism, at from presence.status_events where agent_id = $1 order by at, id', [fay]);
    expect(rows).toEqual([
      { mechanism: 'timeout', at: new Date(written.getTime() + 90_000) },
      { mechanism: 'heartbeat', at: beat[0].last_seen },
    ]);
  });

  it.runIf(shape.lacking.includes('max_chats'))(
    'keeps the capacity a platform lacks: set_capacity sets it, assign_chat stops at it, the sweep releases, nothing reaches the platform\'s table',
    async () => {
      // Setup: Eve of Globex beats under presence with room for one chat only.
      const { Globex, Eve } = ids;
      const platformBefore = await snapshot(owner);
      const bad = await owner.query('select presence.set_capacity($1, $2, 1001)', [Globex, Eve]).then(
        () => null,
        (e: { code?: string; message: string }) => e,
      );
      await owner.query('select presence.set_capacity($1, $2, 1)', [Globex, Eve]);
      await owner.query('select * from presence.heartbeat($1, $2, $3)', [Globex, Eve, 'tab-eve-cap']);
      const first = (await owner.query('select presence.open_chat($1) as id', [Globex])).rows[0].id;
      const second = (await owner.query('select presence.open_chat($1) as id', [Globex])).rows[0].id;

      // Action
      const assigned = await owner.query('select chat_id, agent_id::text from presence.assign_chat($1)', [Globex]);
      const full = await owner.query('select chat_id from presence.assign_chat($1)', [Globex]);
      const seen = (await owner.query('select last_seen from presence_private.agent_state where agent_id = $1', [Eve])).rows[0]
        .last_seen as Date;
      // The sweep with its clock well past the grace (and past the sweep the test above ran an hour ahead): Eve went silent holding a chat.
      await owner.query('select presence.sweep_stale_agents($1::timestamptz)', [new Date(seen.getTime() + 7_200_000)]);

      // Assertions
      expect(bad).toMatchObject({ code: 'PRUSR', message: 'max_chats must be between 0 and 1000, got 1001' });
      expect(assigned.rows).toEqual([{ chat_id: first, agent_id: Eve }]);
      expect(full.rows).toEqual([]);
      expect(
        (await owner.query(
          `select c.max_chats, s.active_chats, s.status from presence_private.agent_capacity c
             join presence_private.agent_state s on s.agent_id = c.agent_id where c.agent_id = $1`,
          [Eve],
        )).rows,
      ).toEqual([{ max_chats: 1, active_chats: 0, status: 'offline' }]);
      expect((await owner.query('select status from presence_private.chats where id = any ($1) order by created_at', [[first, second]])).rows)
        .toEqual([{ status: 'queued' }, { status: 'queued' }]);
      const platformAfter = await snapshot(owner);
      expect(platformAfter.columns).toEqual(platformBefore.columns);
      expect(platformAfter.constraints).toEqual(platformBefore.constraints);
    },
  );

  it.runIf(shape.name === 'seed')(
    "writes a timestamp last_seen as UTC wall time whatever the TimeZone of the session and of the database",
    async () => {
      // Setup: the database's TimeZone New York for new sessions; a second session that sets it itself.
      const { Acme, Ada, Ben } = ids;
      const database = pg.escapeIdentifier(owner.database!);
      await owner.query(`alter database ${database} set timezone to 'America/New_York'`);
      const byDatabase = await connect(url);
      const bySession = await connect(url);
      const wallTime = async (agent: string) =>
        (
          await owner.query(
            `select to_char(last_seen, 'YYYY-MM-DD"T"HH24:MI:SS.MS') as wall from public.human_agents where id = $1`,
            [agent],
          )
        ).rows[0].wall as string;
      const utc = (d: Date) => d.toISOString().replace('Z', '');
      try {
        await owner.query(`alter database ${database} set timezone to ${pg.escapeLiteral(shape.timeZone!)}`);
        await bySession.query(`set timezone to 'America/New_York'`);

        // Action: a new tab (presence.heartbeat), then a beat of the same tab (the batch's fast path).
        const first = await byDatabase.query('select * from presence.heartbeat($1, $2, $3)', [Acme, Ada, 'tab-tz']);
        const firstWall = await wallTime(Ada);
        const again = await bySession.query('select * from presence.heartbeats($1, $2, $3, $4, $5)', [
          [Acme],
          [Ada],
          ['tab-tz'],
          ['active'],
          [null],
        ]);
        const againWall = await wallTime(Ada);
        const other = await bySession.query('select * from presence.heartbeat($1, $2, $3)', [Acme, Ben, 'tab-tz']);

        // Assertions
        expect((await byDatabase.query('show timezone')).rows[0].TimeZone).toBe('America/New_York');
        expect(firstWall).toBe(utc(first.rows[0].last_seen));
        expect(againWall).toBe(utc(again.rows[0].last_seen));
        expect(await wallTime(Ben)).toBe(utc(other.rows[0].last_seen));
      } finally {
        await byDatabase.end();
        await bySession.end();
      }
    },
  );

  it.runIf(!shape.lacking.includes('last_seen'))('looks agents up by id on the platform\'s primary key index (auto_explain of heartbeat and heartbeats)', async () => {
    // Setup: plans of the statements inside the functions, as notices; no sequential scan unless no index fits.
    const { Acme, Ada } = ids;
    const plans: string[] = [];
    const explain = await connect(url);
    explain.on('notice', (notice) => plans.push(notice.message ?? ''));
    try {
      await explain.query('begin');
      await explain.query(`load 'auto_explain'`);
      await explain.query('set local auto_explain.log_min_duration = 0');
      await explain.query('set local auto_explain.log_nested_statements = on');
      await explain.query('set local auto_explain.log_level = notice');
      await explain.query('set local enable_seqscan = off');

      // Action
      await explain.query('select * from presence.heartbeat($1, $2, $3)', [Acme, Ada, 'tab-plan']);
      await explain.query('select * from presence.heartbeats($1, $2, $3, $4, $5)', [[Acme], [Ada], ['tab-plan'], ['active'], [null]]);
      await explain.query('rollback');
    } finally {
      await explain.end();
    }

    // Assertions
    const scans = plans.flatMap((p) => p.match(/(?:Seq Scan|Index Scan|Index Only Scan|Bitmap Heap Scan)[^\n]* on human_agents\b[^\n]*/g) ?? []);
    expect(scans.length).toBeGreaterThan(0);
    expect(scans.filter((s) => s.startsWith('Seq Scan'))).toEqual([]);
    const update = plans.find((p) => p.includes('update public.human_agents a set last_seen = v_now where a.id = p_agent_id'));
    expect(update).toMatch(new RegExp(`Index Scan using ${shape.agentPkey} on human_agents`));
    const mirror = plans.find((p) => p.includes('update public.human_agents a\n       set last_seen = now()\n      from agents g'));
    expect(mirror).toMatch(new RegExp(`Index Scan using ${shape.agentPkey} on human_agents`));
  });
});

// Platforms the migration refuses -------------------------------------------------------------------------------------

interface Refusal {
  error: { code?: string; message: string; hint?: string };
  before: Platform;
  after: Platform;
  /** The presence schemas left in the database, and the migrations recorded as applied. */
  leftovers: { schemas: string[] | null; recorded: string[] };
}

async function refusal(name: string, ddl: string): Promise<Refusal> {
  const db = await platformDatabase(`refuse_${name}`, ddl);
  try {
    const before = await snapshot(db.owner);
    const error = await migrate(db.url).then(
      () => {
        throw new Error('the migration succeeded');
      },
      (e: { code?: string; message: string; hint?: string }) => e,
    );
    const after = await snapshot(db.owner);
    const { rows } = await db.owner.query(
      `select (select array_agg(nspname::text order by nspname) from pg_namespace where nspname like 'presence%') as schemas`,
    );
    const recorded = rows[0].schemas?.includes('presence_migrations')
      ? (await db.owner.query('select name from presence_migrations.migrations')).rows.map((r) => r.name)
      : [];
    return { error, before, after, leftovers: { schemas: rows[0].schemas, recorded } };
  } finally {
    await db.owner.end();
    await db.drop();
  }
}

const PLATFORM_TENANTS = `create table tenants (id uuid primary key default gen_random_uuid(), name text not null);
  insert into tenants (id, name) values ('7d3f5a2e-2222-4000-8000-000000000001', 'Acme');`;

describe('platforms the migration refuses, changing nothing', () => {
  it('status values other than the four stop it, naming each value and how to map it', async () => {
    // Setup / Action
    const { error, before, after, leftovers } = await refusal(
      'values',
      `${PLATFORM_TENANTS}
       create table human_agents (id uuid primary key default gen_random_uuid(), tenant_id uuid not null references tenants,
         name text not null, email text not null, status text not null default 'offline');
       insert into human_agents (tenant_id, name, email, status)
       select '7d3f5a2e-2222-4000-8000-000000000001', 'Agent ' || n, s || n || '@acme.example', s
         from unnest(array['available', 'busy', 'busy', 'on_break', 'offline']) with ordinality u(s, n);`,
    );

    // Assertions
    expect(error).toMatchObject({
      code: 'PRADP',
      message: `public.human_agents.status holds values presence does not know: 'busy' (2 rows), 'on_break' (1 row)`,
      hint: expect.stringContaining(`update public.human_agents set status = 'dnd' where status = 'busy'`),
    });
    expect(after).toEqual(before);
    expect(leftovers).toMatchObject({ recorded: [] });
    expect(leftovers.schemas ?? []).not.toContain('presence');
  });

  it('a check constraint of the platform\'s that does not admit dnd stops it, naming the constraint', async () => {
    // Setup / Action
    const { error, before, after, leftovers } = await refusal(
      'check',
      `${PLATFORM_TENANTS}
       create table human_agents (id uuid primary key default gen_random_uuid(), tenant_id uuid not null references tenants,
         name text not null, email text not null,
         status text not null default 'offline' constraint agent_status_known check (status in ('available', 'away', 'offline')));
       insert into human_agents (tenant_id, name, email, status)
       values ('7d3f5a2e-2222-4000-8000-000000000001', 'Ada', 'ada@acme.example', 'available');`,
    );

    // Assertions
    expect(error).toMatchObject({
      code: 'PRADP',
      message: expect.stringMatching(/^the check constraint agent_status_known on public\.human_agents\.status .* refuses one of available, away, dnd, offline$/),
    });
    expect(after).toEqual(before);
    expect(leftovers).toMatchObject({ recorded: [] });
    expect(leftovers.schemas ?? []).not.toContain('presence');
  });

  it('an enum of the platform\'s that lacks dnd stops it, naming what is missing', async () => {
    // Setup / Action
    const { error, before, after, leftovers } = await refusal(
      'enum',
      `create type agent_state as enum ('offline', 'available', 'away');
       ${PLATFORM_TENANTS}
       create table human_agents (id uuid primary key default gen_random_uuid(), tenant_id uuid not null references tenants,
         name text not null, email text not null, status agent_state not null default 'offline');
       insert into human_agents (tenant_id, name, email, status)
       values ('7d3f5a2e-2222-4000-8000-000000000001', 'Ada', 'ada@acme.example', 'available');`,
    );

    // Assertions
    expect(error).toMatchObject({ code: 'PRADP', message: `the enum agent_state of public.human_agents.status lacks 'dnd'` });
    expect(after).toEqual(before);
    expect(leftovers).toMatchObject({ recorded: [] });
    expect(leftovers.schemas ?? []).not.toContain('presence');
  });

  it('a key of a type presence does not take (numeric) stops it, naming the column and the type', async () => {
    // Setup / Action
    const { error, before, after, leftovers } = await refusal(
      'numeric',
      `create table tenants (id numeric primary key, name text not null);
       insert into tenants values (1, 'Acme');
       create table human_agents (id numeric primary key, tenant_id numeric not null references tenants,
         name text not null, email text not null, status text not null default 'offline');
       insert into human_agents values (1, 1, 'Ada', 'ada@acme.example', 'available');`,
    );

    // Assertions
    expect(error).toMatchObject({
      code: 'PRADP',
      message: expect.stringMatching(/^presence takes keys of type uuid, text, varchar, integer or bigint; public\..*id is numeric$/),
    });
    expect(after).toEqual(before);
    expect(leftovers).toMatchObject({ recorded: [] });
    expect(leftovers.schemas ?? []).not.toContain('presence');
  });

  it('a refused platform is left without a migrations table (migrate() creates none before the migrations run)', async () => {
    // Setup / Action
    const { error, leftovers } = await refusal(
      'trace',
      `${PLATFORM_TENANTS}
       create table human_agents (id uuid primary key default gen_random_uuid(), tenant_id uuid not null references tenants,
         name text not null, email text not null, status text not null default 'offline');
       insert into human_agents (tenant_id, name, email, status)
       values ('7d3f5a2e-2222-4000-8000-000000000001', 'Ada', 'ada@acme.example', 'busy');`,
    );

    // Assertions
    expect(error).toMatchObject({ code: 'PRADP' });
    expect(leftovers).toEqual({ schemas: null, recorded: [] });
  });

  it('a tenants table without name stops it before anything changes, naming the missing column', async () => {
    // Setup / Action: a platform that calls its tenants' name something else. presence reads tenants.name
    // (presence_accounts, and the landed 1795500000110's session_user, a SQL function checked when it is made).
    const { error, before, after, leftovers } = await refusal(
      'tenant_name',
      `create table tenants (id bigserial primary key, title text not null);
       insert into tenants (title) values ('Acme');
       create table human_agents (id bigserial primary key, tenant_id bigint not null references tenants,
         name text not null, email text not null, status text not null default 'offline');
       insert into human_agents (tenant_id, name, email) values (1, 'Ada', 'ada@acme.example');`,
    );

    // Assertions
    expect(error).toMatchObject({
      code: 'PRADP',
      message: expect.stringContaining('tenants.name'),
    });
    expect(after).toEqual(before);
    expect(leftovers).toMatchObject({ recorded: [] });
  });
});
