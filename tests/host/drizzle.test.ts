// A platform on Drizzle (the seed's stack) keeps running its own `drizzle-kit push` after adopting presence. Each
// shape below is built by the real drizzle-kit CLI from a `schema.ts` in a scratch database, then adopted by
// presence's migrate(). The platform then pushes again, once with its schema unchanged and once with a column of its
// own added: push must plan nothing of presence's (no dropped constraint, index or column, no retyped `last_seen`),
// add the new column, exit 0 without an error; presence keeps working (a beat, the sweep, the history, the release of
// chats), and the platform's Drizzle reads `last_seen` as the instant presence wrote on a connection whose TimeZone is
// not UTC; `presence check` passes. Shapes, as tests/db/adopt.test.ts has them:
//   seed     varchar keys holding uuids, `last_seen timestamp` (without time zone); it also manages a role of its own
//            (entities.roles), so push must leave presence's roles alone;
//   uuid     uuid keys, status under the platform's check constraint, `last_seen timestamptz`;
//   bigint   bigserial keys, status an enum, no chats columns and no last_seen (presence keeps them itself).
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify, stripVTControlCharacters } from 'node:util';
import { eq } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/node-postgres';
import { pgTable, timestamp, varchar } from 'drizzle-orm/pg-core';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { withClient } from '../../db/client.ts';
import { projectRoot } from '../../db/database.ts';
import { migrate } from '../../db/migrate.ts';
import { scratchDatabase } from '../helpers/db.ts';

const run = promisify(execFile);
const DRIZZLE_KIT = join(projectRoot, 'node_modules', '.bin', 'drizzle-kit');
const PRESENCE_ROLES = ['presence_app', 'presence_analyst', 'presence_server'];
/** The seed platform's own role (roles are the cluster's: one of this run's own, dropped afterwards). */
const READER = `platform_reader_${randomUUID().slice(0, 8)}`;

interface Shape {
  name: string;
  /** The platform's shared/schema.ts (Drizzle), without the new column. */
  schema: string;
  /** The column the platform adds to human_agents later, as a line of its pgTable, and the DDL push must plan. */
  newColumn: { ts: string; ddl: string };
  /** Roles the platform manages with drizzle-kit (entities.roles), declared in its schema.ts. */
  roles?: string[];
  /** The platform's rows: two tenants, Ada and Ben in the first, Dee in the second. */
  rows: string;
  /** Drizzle's column type for last_seen, where the platform has one. */
  lastSeen?: 'timestamp' | 'timestamptz';
}

const SHAPES: Shape[] = [
  {
    name: 'seed',
    schema: `
import { sql } from 'drizzle-orm';
import { integer, pgRole, pgTable, text, timestamp, varchar } from 'drizzle-orm/pg-core';

export const platformReader = pgRole('${READER}');

export const tenants = pgTable('tenants', {
  id: varchar('id').primaryKey().default(sql\`gen_random_uuid()\`),
  name: text('name').notNull(),
  createdAt: timestamp('created_at').defaultNow(),
});

export const humanAgents = pgTable('human_agents', {
  id: varchar('id').primaryKey().default(sql\`gen_random_uuid()\`),
  tenantId: varchar('tenant_id').notNull().references(() => tenants.id),
  name: text('name').notNull(),
  email: text('email').notNull(),
  status: varchar('status').notNull().default('offline'),
  activeChats: integer('active_chats').default(0),
  maxChats: integer('max_chats').default(5),
  createdAt: timestamp('created_at').defaultNow(),
  lastSeen: timestamp('last_seen').defaultNow(),
  //NEW
});
`,
    newColumn: { ts: `nickname: text('nickname'),`, ddl: 'ALTER TABLE "human_agents" ADD COLUMN "nickname" text;' },
    roles: [READER],
    rows: `
      insert into tenants (id, name) values
        ('7d3f5a2e-1111-4000-8000-000000000001', 'Acme'), ('7d3f5a2e-1111-4000-8000-000000000002', 'Globex');
      insert into human_agents (id, tenant_id, name, email, status, last_seen) values
        ('0a000000-0000-4000-8000-00000000000a', '7d3f5a2e-1111-4000-8000-000000000001', 'Ada', 'ada@acme.example', 'available', '2026-11-20 09:15:00'),
        ('0b000000-0000-4000-8000-00000000000b', '7d3f5a2e-1111-4000-8000-000000000001', 'Ben', 'ben@acme.example', 'dnd', null),
        ('0d000000-0000-4000-8000-00000000000d', '7d3f5a2e-1111-4000-8000-000000000002', 'Dee', 'dee@globex.example', 'away', '2026-11-19 23:59:59');`,
    lastSeen: 'timestamp',
  },
  {
    name: 'uuid',
    schema: `
import { sql } from 'drizzle-orm';
import { check, index, integer, pgTable, text, timestamp, uuid } from 'drizzle-orm/pg-core';

export const tenants = pgTable('tenants', {
  id: uuid('id').primaryKey().defaultRandom(),
  name: text('name').notNull(),
  plan: text('plan').notNull().default('starter'),
  createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
});

export const humanAgents = pgTable(
  'human_agents',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    tenantId: uuid('tenant_id').notNull().references(() => tenants.id, { onDelete: 'cascade' }),
    name: text('name').notNull(),
    email: text('email').notNull(),
    status: text('status').notNull().default('offline'),
    activeChats: integer('active_chats').notNull().default(0),
    maxChats: integer('max_chats').notNull().default(3),
    lastSeen: timestamp('last_seen', { withTimezone: true }),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    //NEW
  },
  (t) => [
    index('human_agents_tenant_idx').on(t.tenantId),
    check('agent_status_allowed', sql\`\${t.status} in ('available', 'away', 'dnd', 'offline')\`),
  ],
);
`,
    newColumn: {
      ts: `onboardedAt: timestamp('onboarded_at', { withTimezone: true }),`,
      ddl: 'ALTER TABLE "human_agents" ADD COLUMN "onboarded_at" timestamp with time zone;',
    },
    rows: `
      insert into tenants (id, name, plan) values
        ('7d3f5a2e-1111-4000-8000-000000000001', 'Acme', 'pro'), ('7d3f5a2e-1111-4000-8000-000000000002', 'Globex', 'starter');
      insert into human_agents (id, tenant_id, name, email, status) values
        ('0a000000-0000-4000-8000-00000000000a', '7d3f5a2e-1111-4000-8000-000000000001', 'Ada', 'ada@acme.example', 'available'),
        ('0b000000-0000-4000-8000-00000000000b', '7d3f5a2e-1111-4000-8000-000000000001', 'Ben', 'ben@acme.example', 'dnd'),
        ('0d000000-0000-4000-8000-00000000000d', '7d3f5a2e-1111-4000-8000-000000000002', 'Dee', 'dee@globex.example', 'away');`,
    lastSeen: 'timestamptz',
  },
  {
    name: 'bigint',
    schema: `
import { bigint, bigserial, pgEnum, pgTable, timestamp, uniqueIndex, varchar } from 'drizzle-orm/pg-core';

export const availability = pgEnum('availability', ['offline', 'available', 'away', 'dnd']);

export const tenants = pgTable('tenants', {
  id: bigserial('id', { mode: 'number' }).primaryKey(),
  name: varchar('name').notNull(),
  createdAt: timestamp('created_at', { precision: 6 }).notNull().defaultNow(),
  updatedAt: timestamp('updated_at', { precision: 6 }).notNull().defaultNow(),
});

export const humanAgents = pgTable(
  'human_agents',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    tenantId: bigint('tenant_id', { mode: 'number' }).notNull().references(() => tenants.id),
    name: varchar('name').notNull(),
    email: varchar('email').notNull(),
    status: availability('status').notNull().default('offline'),
    createdAt: timestamp('created_at', { precision: 6 }).notNull().defaultNow(),
    updatedAt: timestamp('updated_at', { precision: 6 }).notNull().defaultNow(),
    //NEW
  },
  (t) => [uniqueIndex('index_human_agents_on_tenant_id_and_email').on(t.tenantId, t.email)],
);
`,
    newColumn: { ts: `locale: varchar('locale'),`, ddl: 'ALTER TABLE "human_agents" ADD COLUMN "locale" varchar;' },
    rows: `
      insert into tenants (id, name) values (41, 'Acme'), (42, 'Globex');
      select setval('tenants_id_seq', 42);
      insert into human_agents (id, tenant_id, name, email, status) values
        (7, 41, 'Ada', 'ada@acme.example', 'available'),
        (8, 41, 'Ben', 'ben@acme.example', 'dnd'),
        (10, 42, 'Dee', 'dee@globex.example', 'away');
      select setval('human_agents_id_seq', 11);`,
  },
];

// The platform's project: its drizzle.config.ts and shared/schema.ts ------------------------------------------------

/** drizzle.config.ts as a platform sharing its database with presence writes it. */
function drizzleConfig(shape: Shape): string {
  const roles = shape.roles
    ? // drizzle-kit 0.31 reads only the roles named in `include`; `roles: true` would plan DROP ROLE for every
      // role schema.ts does not declare, presence's among them.
      `\n  entities: { roles: { include: ${JSON.stringify(shape.roles)}, exclude: ${JSON.stringify(PRESENCE_ROLES)} } },`
    : '';
  return `import { defineConfig } from 'drizzle-kit';

export default defineConfig({
  dialect: 'postgresql',
  schema: './shared/schema.ts',
  dbCredentials: { url: process.env.PLATFORM_DATABASE_URL! },
  // Presence's schemas are not the platform's: push neither reads nor changes them.
  schemaFilter: ['public'],${roles}
  strict: false,
  verbose: true,
});
`;
}

interface Push {
  code: number;
  output: string;
  /** The statements push printed before running them. */
  statements: string[];
  /** The output without stack frames, for a failure's message (vitest would read drizzle-kit's frames as its own). */
  said: string;
}

/** Runs the platform's `drizzle-kit push --force` (the real CLI, no terminal) and reads what it planned. */
async function push(dir: string, url: string): Promise<Push> {
  let code = 0;
  let output: string;
  try {
    const { stdout, stderr } = await run(DRIZZLE_KIT, ['push', '--force', '--config', 'drizzle.config.ts'], {
      cwd: dir,
      env: { ...process.env, PLATFORM_DATABASE_URL: url, NO_COLOR: '1' },
      timeout: 60_000,
    });
    output = stripVTControlCharacters(stdout + stderr);
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    code = e.code;
    output = stripVTControlCharacters(e.stdout + e.stderr);
  }
  const planned = output.split('You are about to execute current statements:')[1] ?? '';
  const statements = planned
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => /^(ALTER|CREATE|DROP|COMMENT|GRANT|REVOKE|TRUNCATE)\b/.test(line));
  const said = output
    .split('\n')
    .filter((line) => !/^\s+at /.test(line))
    .join('\n');
  return { code, output, statements, said };
}

// Catalog snapshots --------------------------------------------------------------------------------------------------

interface Catalog {
  /** The platform's tables: columns, constraints, indexes, triggers, privileges. */
  platform: string[];
  /** Everything of presence's: schemas, relations, constraints, indexes, functions, types, roles, privileges. */
  presence: string[];
}

async function catalog(db: pg.Pool): Promise<Catalog> {
  const platform = await db.query<{ x: string }>(
    `select format('column %s.%s %s not null %s default %s', c.relname, a.attname, format_type(a.atttypid, a.atttypmod),
                   a.attnotnull, pg_get_expr(d.adbin, d.adrelid)) as x
       from pg_attribute a join pg_class c on c.oid = a.attrelid
       left join pg_attrdef d on d.adrelid = a.attrelid and d.adnum = a.attnum
      where c.oid in ('public.tenants'::regclass, 'public.human_agents'::regclass) and a.attnum > 0 and not a.attisdropped
     union all
     select format('constraint %s %s %s', conrelid::regclass, conname, pg_get_constraintdef(oid)) from pg_constraint
      where conrelid in ('public.tenants'::regclass, 'public.human_agents'::regclass)
     union all
     select 'index ' || pg_get_indexdef(indexrelid) from pg_index
      where indrelid in ('public.tenants'::regclass, 'public.human_agents'::regclass)
     union all
     select format('trigger %s %s', tgrelid::regclass, tgname) from pg_trigger
      where tgrelid in ('public.tenants'::regclass, 'public.human_agents'::regclass)
     union all
     select format('acl %s %s', c.oid::regclass, c.relacl) from pg_class c
      where c.oid in ('public.tenants'::regclass, 'public.human_agents'::regclass)
     order by 1`,
  );
  const presence = await db.query<{ x: string }>(
    `with s as (select oid, nspname from pg_namespace where nspname like 'presence%')
     select format('schema %s %s', nspname, n.nspacl) as x from pg_namespace n where n.oid in (select oid from s)
     union all
     select format('relation %s %s %s', c.oid::regclass, c.relkind, c.relacl) from pg_class c
      where c.relnamespace in (select oid from s)
     union all
     select format('column %s.%s %s %s', c.oid::regclass, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull)
       from pg_attribute a join pg_class c on c.oid = a.attrelid
      where c.relnamespace in (select oid from s) and a.attnum > 0 and not a.attisdropped
     union all
     select format('constraint %s %s %s', coalesce(conrelid::regclass::text, contypid::regtype::text), conname,
                   pg_get_constraintdef(oid))
       from pg_constraint where connamespace in (select oid from s)
     union all
     select 'index ' || pg_get_indexdef(i.indexrelid) from pg_index i join pg_class c on c.oid = i.indexrelid
      where c.relnamespace in (select oid from s)
     union all
     select format('function %s %s %s', p.oid::regprocedure, md5(p.prosrc), p.proacl) from pg_proc p
      where p.pronamespace in (select oid from s)
     union all
     select format('type %s', t.oid::regtype) from pg_type t where t.typnamespace in (select oid from s)
     union all
     select format('role %s %s %s', rolname, rolcanlogin, rolinherit) from pg_roles where rolname = any ($1::text[])
     order by 1`,
    // Presence's roles only: other test files make and drop roles of their own in the same cluster meanwhile.
    [PRESENCE_ROLES],
  );
  return { platform: platform.rows.map((r) => r.x), presence: presence.rows.map((r) => r.x) };
}

// The shapes ---------------------------------------------------------------------------------------------------------

describe.each(SHAPES)('a Drizzle platform with $name keys, adopted, runs its own drizzle-kit push', (shape) => {
  let dir: string;
  let url: string;
  let drop: () => Promise<void>;
  let owner: pg.Pool;
  let fresh: Push;
  let adopted: Catalog;
  let unchanged: Push;
  let afterUnchanged: Catalog;
  let withColumn: Push;
  let afterColumn: Catalog;
  const ids = {} as Record<'Acme' | 'Globex' | 'Ada' | 'Ben' | 'Dee', string>;
  const writeSchema = (withNewColumn: boolean) =>
    writeFileSync(
      join(dir, 'shared', 'schema.ts'),
      shape.schema.replace('//NEW', withNewColumn ? shape.newColumn.ts : ''),
    );

  beforeAll(async () => {
    // Setup: the platform's project and database, built by drizzle-kit, with rows, then adopted by presence.
    dir = mkdtempSync(join(tmpdir(), `presence-drizzle-${shape.name}-`));
    symlinkSync(join(projectRoot, 'node_modules'), join(dir, 'node_modules'), 'dir');
    writeFileSync(join(dir, 'drizzle.config.ts'), drizzleConfig(shape));
    mkdirSync(join(dir, 'shared'));
    writeSchema(false);
    ({ url, drop } = await scratchDatabase(`drizzle_${shape.name}`));
    const created = await push(dir, url);
    expect(created.said).not.toMatch(/error/i);
    owner = new pg.Pool({ connectionString: url, max: 2 });
    await owner.query(shape.rows);
    const { rows } = await owner.query<{ name: keyof typeof ids; id: string }>(
      'select name, id::text as id from public.human_agents union all select name, id::text from public.tenants',
    );
    for (const r of rows) ids[r.name] = r.id;
    // The platform's push is steady on its own: whatever it plans after adoption is presence's doing.
    fresh = await push(dir, url);

    await migrate(url);
    adopted = await catalog(owner);

    // Action: the platform's weekly push, unchanged, then with a column of its own.
    unchanged = await push(dir, url);
    afterUnchanged = await catalog(owner);
    writeSchema(true);
    withColumn = await push(dir, url);
    afterColumn = await catalog(owner);
  }, 180_000);
  afterAll(async () => {
    await owner?.end();
    await drop?.();
    if (shape.roles) await withClient(inject('databaseUrl'), (c) => c.query(`drop role if exists ${READER}`));
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('before adoption, a second push of the platform finds nothing to change', () => {
    // Assertions
    expect(fresh.code).toBe(0);
    expect(fresh.statements).toEqual([]);
    expect(fresh.said).toMatch(/No changes detected/);
  });

  it('after adoption, push with the schema unchanged plans nothing, changes nothing and reports no error', () => {
    // Assertions
    expect(unchanged.statements, unchanged.said).toEqual([]);
    expect(unchanged.said).toMatch(/No changes detected/);
    expect(unchanged.said).not.toMatch(/error/i);
    expect(unchanged.code).toBe(0);
    expect(afterUnchanged).toEqual(adopted);
  });

  it('push with a new column of the platform adds that column and nothing else, and leaves presence as it was', () => {
    // Assertions
    expect(withColumn.statements, withColumn.said).toEqual([shape.newColumn.ddl]);
    expect(withColumn.said).toMatch(/Changes applied/);
    expect(withColumn.said).not.toMatch(/error/i);
    expect(withColumn.code).toBe(0);
    expect(afterColumn.presence).toEqual(adopted.presence);
    const added = afterColumn.platform.filter((x) => !adopted.platform.includes(x));
    expect(added).toEqual([expect.stringMatching(/^column human_agents\.\w+ /)]);
    expect(afterColumn.platform.filter((x) => x !== added[0])).toEqual(adopted.platform);
  });

  it('presence keeps working after the pushes: a beat, a chat, the sweep and its release of the chat, the history', async () => {
    // Setup: the app's calls as presence_app, the owner's (sweep, release) as the owner, as a platform makes them.
    const { Acme, Ada } = ids;
    const app = await owner.connect();
    try {
      await app.query('set role presence_app');

      // Action / Assertions: a beat brings Ada online; the platform's own status column says so.
      const beat = await app.query('select * from presence.heartbeat($1, $2, $3, $4, $5)', [Acme, Ada, 'tab-ada', 'active', 'ada-1']);
      expect(beat.rows[0].status).toBe('available');
      const statusOf = async () =>
        (await owner.query('select status::text as status from public.human_agents where id = $1', [Ada])).rows[0].status;
      expect(await statusOf()).toBe('available');

      // A chat goes to her.
      const chat = (await app.query('select presence.open_chat($1) as id', [Acme])).rows[0].id;
      expect((await app.query('select chat_id, agent_id::text from presence.assign_chat($1)', [Acme])).rows).toEqual([
        { chat_id: chat, agent_id: Ada },
      ]);
      const chatsOf = async () =>
        (await owner.query('select active_chats from presence.agent_presence where agent_id::text = $1', [Ada])).rows[0]
          .active_chats;
      expect(await chatsOf()).toBe(1);

      // The sweep, called directly with its clock an hour ahead: she went silent, and her chat went back to the
      // queue (release_chats_after_s, 60 s, passed too); her next beat gets it again.
      await owner.query(`select presence.sweep_stale_agents(now() + interval '1 hour')`);
      expect(await statusOf()).toBe('offline');
      expect(await chatsOf()).toBe(0);
      await app.query('select * from presence.heartbeat($1, $2, $3, $4, $5)', [Acme, Ada, 'tab-ada', 'active', 'ada-1']);
      expect((await app.query('select chat_id from presence.assign_chat($1)', [Acme])).rows).toEqual([{ chat_id: chat }]);

      // Her history.
      const { rows: history } = await app.query(
        `select events from presence.agent_history($1, $2, now() - interval '1 day', now() + interval '2 hours')`,
        [Acme, Ada],
      );
      expect(history[0].events.map((e: { to: string; mechanism: string }) => `${e.to}/${e.mechanism}`).slice(-3)).toEqual([
        'available/heartbeat',
        'offline/timeout',
        'available/heartbeat',
      ]);
    } finally {
      await app.query('reset role');
      app.release();
    }
  });

  it("`presence check`, as the platform's CI runs it, finds all that presence needs in place after the pushes", async () => {
    // Action: the worker sweeps a scratch database (pg_cron sweeps only the cluster's own database).
    const res = await run(process.execPath, [join(projectRoot, 'server', 'cli', 'bin.js'), 'check', '--worker-sweeps', '--json'], {
      env: { ...process.env, DATABASE_URL: url },
      cwd: projectRoot,
    }).then(
      ({ stdout }) => ({ code: 0, stdout }),
      (error: { code: number; stdout: string }) => ({ code: error.code, stdout: error.stdout }),
    );

    // Assertions
    const { checks } = JSON.parse(res.stdout) as {
      checks: Array<{ name: string; ok: boolean; detail: string; missing: string[] }>;
    };
    expect(checks.filter((c) => !c.ok)).toEqual([]);
    expect(res.code).toBe(0);
    // It says which of the columns presence needs it keeps itself, where the platform has none (the bigint shape).
    expect(checks.find((c) => c.name === 'platform columns')?.detail).toBe(
      'tenants.id, human_agents id, tenant_id, status, name, email' +
        (shape.name === 'bigint' ? '; presence keeps last_seen, active_chats, max_chats itself' : ', last_seen, active_chats, max_chats'),
    );
  });

  if (shape.lastSeen) {
    const withTimezone = shape.lastSeen === 'timestamptz';
    it(`the platform's Drizzle reads last_seen (${shape.lastSeen}) as the instant of the beat on a connection in America/New_York`, async () => {
      // Setup: the platform's own pool and table definition, its sessions in New York.
      const { Globex, Dee } = ids;
      const newYork = new pg.Pool({ connectionString: url, max: 1, options: '-c TimeZone=America/New_York' });
      const humanAgents = pgTable('human_agents', {
        id: varchar('id').primaryKey(),
        lastSeen: timestamp('last_seen', { withTimezone }),
      });
      try {
        const { rows: beat } = await owner.query<{ last_seen: Date }>('select * from presence.heartbeat($1, $2, $3)', [
          Globex,
          Dee,
          'tab-dee',
        ]);

        // Action
        const db = drizzle(newYork);
        const [read] = await db.select({ lastSeen: humanAgents.lastSeen }).from(humanAgents).where(eq(humanAgents.id, Dee));
        const { rows: now } = await newYork.query<{ now: Date; zone: string }>(`select now(), current_setting('TimeZone') as zone`);

        // Assertions
        expect(now[0]!.zone).toBe('America/New_York');
        expect(read!.lastSeen).toEqual(beat[0]!.last_seen);
        expect(Math.abs(read!.lastSeen!.getTime() - now[0]!.now.getTime())).toBeLessThan(60_000);
      } finally {
        await newYork.end();
      }
    });
  }
});
