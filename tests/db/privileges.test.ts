// Who may do what in the database. Every function, table, view and sequence of the schemas below is enumerated from
// the catalogs, so an object added later is covered without editing this file, and compared with the explicit list
// of what presence_app, presence_analyst, a role with no grants and PUBLIC may do. Then the attacks of issue 8, each
// made by a real login role over TCP with its password, as the request path (a member of presence_app only) and an
// analyst (a member of presence_analyst) log in.
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createAgent, createTenant, testPool } from '../helpers/db.ts';

const db = testPool();

const SCHEMAS = ['public', 'presence', 'presence_private', 'presence_accounts', 'presence_crypto', 'graphile_worker', 'cron'];
const OUR_SCHEMAS = ['presence', 'presence_private', 'presence_accounts'];
const DENIED = '42501';
const NO_SUCH_FUNCTION = '42883';

const suffix = randomBytes(4).toString('hex');
const NOBODY = `presence_nobody_${suffix}`;
const INTRUDER = `presence_intruder_${suffix}`;
const READER = `presence_reader_${suffix}`;
const password = randomBytes(18).toString('base64url');

/** What PUBLIC holds by default on PostgreSQL 15, and so every role: nothing of ours. */
const PUBLIC_DEFAULTS = ['connect on database', 'temporary on database', 'usage on schema public'];

const APP_FUNCTIONS = [
  'presence.agent_history(presence.tenant_key,presence.agent_key,timestamp with time zone,timestamp with time zone,integer,text)',
  'presence.add_reason(presence.tenant_key,text,text,integer)',
  'presence.agent_day(presence.tenant_key,presence.agent_key,date)',
  'presence.assign_chat(presence.tenant_key)',
  'presence.close_chat(presence.tenant_key,uuid)',
  'presence.current_status(text,timestamp with time zone,timestamp with time zone,integer)',
  'presence.effective_status(text,timestamp with time zone,integer)',
  'presence.end_session(presence.tenant_key,presence.agent_key,text,text)',
  'presence.end_sign_in(presence.tenant_key,presence.agent_key,text)',
  'presence.heartbeat(presence.tenant_key,presence.agent_key,text,text,text)',
  'presence.heartbeats(presence.tenant_key[],presence.agent_key[],text[],text[],text[])',
  'presence.offline_at(timestamp with time zone,integer)',
  'presence.open_chat(presence.tenant_key)',
  'presence.set_agent_status(presence.tenant_key,presence.agent_key,text,uuid,timestamp with time zone,text,text)',
  'presence.set_status(presence.tenant_key,presence.agent_key,text,uuid,timestamp with time zone,text,text)',
  'presence.sign_ins_ended(presence.tenant_key[],text[])',
  'presence.status_changes_after(bigint,presence.tenant_key[],bigint[],bigint[],integer)',
  'presence.sweep_runs()',
  'presence.sweep_scheduler()',
  'presence.tenant_summaries(presence.tenant_key[])',
  'presence.time_in_status_for(presence.tenant_key,presence.agent_key,date,date)',
  'presence.timeout_at(timestamp with time zone,integer,timestamp with time zone)',
  'presence.timeouts_due(presence.tenant_key[],timestamp with time zone[])',
  'presence.update_reason(presence.tenant_key,uuid,text,integer,integer,boolean,boolean)',
  'presence_accounts.heartbeats(bytea[],text[],text[])',
  'presence_accounts.logout(bytea)',
  'presence_accounts.session_users(bytea[])',
  'presence_accounts.sign_in(text,text,text,bytea,integer,text)',
];
const ANALYST_FUNCTIONS = [
  'presence.current_status(text,timestamp with time zone,timestamp with time zone,integer)',
  'presence.effective_status(text,timestamp with time zone,integer)',
  'presence.offline_at(timestamp with time zone,integer)',
  'presence.sweep_runs()',
  'presence.sweep_scheduler()',
  'presence.time_in_status_for(presence.tenant_key,presence.agent_key,date,date)',
  'presence.timeout_at(timestamp with time zone,integer,timestamp with time zone)',
];
const VIEWS = ['view presence.agent_presence', 'view presence.reasons', 'view presence.settings', 'view presence.time_in_status'];

const EXPECTED: Record<string, string[]> = {
  presence_app: [
    ...PUBLIC_DEFAULTS,
    'usage on schema presence',
    'usage on schema presence_accounts',
    ...APP_FUNCTIONS.map((f) => `execute on function ${f}`),
    ...VIEWS.map((v) => `select on ${v}`),
  ],
  presence_analyst: [
    ...PUBLIC_DEFAULTS,
    'usage on schema presence',
    ...ANALYST_FUNCTIONS.map((f) => `execute on function ${f}`),
    ...[
      'view presence.daily_occupancy',
      'view presence.daily_status_seconds',
      'table presence.status_events',
      'table presence.tenant_settings',
      'table public.human_agents',
      'table public.tenants',
      ...VIEWS,
    ].map((t) => `select on ${t}`),
  ],
  'a role with no grants': PUBLIC_DEFAULTS,
  PUBLIC: PUBLIC_DEFAULTS,
};
const ROLE_OF: Record<string, string> = { 'a role with no grants': NOBODY, PUBLIC: 'public' };

/**
 * Everything `role` may do in SCHEMAS, one line per privilege, sorted: what it holds on an object and on the schema
 * that contains it (a privilege on an object of a schema the role cannot use is no privilege). Column privileges
 * count: has_any_column_privilege is true for a grant on one column as well as on the table.
 */
async function privilegesOf(role: string): Promise<string[]> {
  const { rows } = await db.query<{ privilege: string }>(
    `select format('%s on schema %I', lower(x.p), n.nspname) as privilege
       from pg_namespace n cross join unnest(array['USAGE', 'CREATE']) x(p)
      where n.nspname = any($2) and has_schema_privilege($1, n.oid, x.p)
     union all
     select format('execute on function %s', p.oid::regprocedure)
       from pg_proc p join pg_namespace n on n.oid = p.pronamespace
      where n.nspname = any($2) and has_schema_privilege($1, n.oid, 'USAGE') and has_function_privilege($1, p.oid, 'EXECUTE')
     union all
     select format('%s on %s %I.%I', lower(x.p),
                   case c.relkind when 'v' then 'view' when 'm' then 'materialized view' when 'f' then 'foreign table' else 'table' end,
                   n.nspname, c.relname)
       from pg_class c join pg_namespace n on n.oid = c.relnamespace
      cross join unnest(array['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'TRUNCATE', 'REFERENCES', 'TRIGGER']) x(p)
      where n.nspname = any($2) and c.relkind in ('r', 'p', 'v', 'm', 'f') and has_schema_privilege($1, n.oid, 'USAGE')
        and case when x.p in ('SELECT', 'INSERT', 'UPDATE', 'REFERENCES') then has_any_column_privilege($1, c.oid, x.p)
                 else has_table_privilege($1, c.oid, x.p) end
     union all
     select format('%s on sequence %I.%I', lower(x.p), n.nspname, c.relname)
       from pg_class c join pg_namespace n on n.oid = c.relnamespace
      cross join unnest(array['USAGE', 'SELECT', 'UPDATE']) x(p)
      where n.nspname = any($2) and c.relkind = 'S' and has_schema_privilege($1, n.oid, 'USAGE')
        and has_sequence_privilege($1, c.oid, x.p)
     union all
     select format('%s on database', lower(x.p))
       from unnest(array['CREATE', 'TEMPORARY', 'CONNECT']) x(p)
      where has_database_privilege($1, current_database(), x.p)
     order by 1`,
    [role, SCHEMAS],
  );
  return rows.map((r) => r.privilege);
}

function loginUrl(user: string, secret: string): string {
  const url = new URL(inject('databaseUrl'));
  url.username = user;
  url.password = secret;
  return url.toString();
}

/** A connection of `user` over TCP with its password, as the server's request path or an analyst logs in. */
async function login(user: string, secret = password): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: loginUrl(user, secret) });
  await client.connect();
  return client;
}

/** The SQLSTATE a query fails with, or 'ok'. */
async function attempt(client: pg.Client, sql: string, params: unknown[] = []): Promise<string> {
  try {
    await client.query(sql, params);
    return 'ok';
  } catch (error) {
    return (error as { code?: string; message: string }).code ?? (error as Error).message;
  }
}

let intruder: pg.Client;
let reader: pg.Client;

beforeAll(async () => {
  await db.query(`create role ${NOBODY} nologin`);
  await db.query(`create role ${INTRUDER} login password '${password}' in role presence_app`);
  await db.query(`create role ${READER} login password '${password}' in role presence_analyst`);
  intruder = await login(INTRUDER);
  reader = await login(READER);
});

afterAll(async () => {
  await intruder?.end();
  await reader?.end();
  await db.query(`drop role if exists ${NOBODY}, ${INTRUDER}, ${READER}`);
  await db.end();
});

describe('what each role may do, object by object', () => {
  it.each(Object.keys(EXPECTED))('%s may do exactly what its list says, on every function, table, view and sequence', async (who) => {
    // Action
    const held = await privilegesOf(ROLE_OF[who] ?? who);

    // Assertions
    expect(held).toEqual([...EXPECTED[who]!].sort());
  });

  it('the enumeration sees the objects of every schema it covers (it cannot pass on an empty catalog)', async () => {
    const { rows: cron } = await db.query(`select 1 from pg_extension where extname = 'pg_cron'`);
    const covered = SCHEMAS.filter((s) => s !== 'cron' || cron.length > 0);
    const { rows } = await db.query<{ nspname: string; functions: number; relations: number }>(
      `select n.nspname,
              (select count(*) from pg_proc p where p.pronamespace = n.oid)::int as functions,
              (select count(*) from pg_class c where c.relnamespace = n.oid and c.relkind in ('r', 'v', 'S'))::int as relations
         from pg_namespace n where n.nspname = any($1) order by 1`,
      [SCHEMAS],
    );
    expect(rows.map((r) => r.nspname)).toEqual([...covered].sort());
    for (const r of rows.filter((r) => r.nspname !== 'public')) expect(r.functions + r.relations, r.nspname).toBeGreaterThan(0);
  });

  it('PUBLIC executes nothing in presence, presence_private, presence_accounts and presence_crypto, create_account included', async () => {
    const { rows } = await db.query(
      `select p.oid::regprocedure::text as function
         from pg_proc p join pg_namespace n on n.oid = p.pronamespace
        where n.nspname = any($1)
          and exists (select 1 from aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) a
                       where a.grantee = 0 and a.privilege_type = 'EXECUTE')`,
      [[...OUR_SCHEMAS, 'presence_crypto']],
    );
    expect(rows).toEqual([]);
  });

  it('a function the owner creates after the migrations is not executable by PUBLIC (the global default, not the per-schema one)', async () => {
    // Setup / Action: in a transaction that is rolled back
    const client = await db.connect();
    try {
      await client.query('begin');
      await client.query(`create function presence.privileges_probe() returns int language sql as 'select 1'`);
      const { rows } = await client.query(
        `select has_function_privilege('public', 'presence.privileges_probe()', 'EXECUTE') as public,
                has_function_privilege('presence_app', 'presence.privileges_probe()', 'EXECUTE') as app`,
      );

      // Assertions
      expect(rows).toEqual([{ public: false, app: false }]);
    } finally {
      await client.query('rollback');
      client.release();
    }
  });

  it('no function presence_app or presence_analyst executes takes the time, but agent_history and time_in_status_for their range, timeouts_due where its last answer ended and the pure liveness rule the moments it is asked about', async () => {
    // Action: every argument of a time type (or a domain or array of one) of every function either role may execute
    const { rows } = await db.query(
      `select p.oid::regprocedure::text as function, x.name, p.prosecdef as definer, p.provolatile as volatility,
              l.lanname as language
         from pg_proc p
         join pg_namespace n on n.oid = p.pronamespace
         join pg_language l on l.oid = p.prolang
        cross join lateral unnest(coalesce(p.proallargtypes, p.proargtypes::oid[]),
                                  coalesce(p.proargmodes, array_fill('i'::"char", array[p.pronargs])),
                                  coalesce(p.proargnames, array_fill(''::text, array[cardinality(coalesce(p.proallargtypes, p.proargtypes::oid[]))])))
                   as x(type, mode, name)
         join pg_type t on t.oid = x.type
        where n.nspname = any($1) and x.mode in ('i', 'b', 'v')
          and coalesce(nullif(t.typelem, 0), nullif(t.typbasetype, 0), t.oid)
              in ('timestamptz'::regtype, 'timestamp'::regtype, 'date'::regtype, 'time'::regtype, 'timetz'::regtype, 'interval'::regtype)
          and exists (select 1 from unnest(array['presence_app', 'presence_analyst']) r(role)
                       where has_schema_privilege(r.role, n.oid, 'USAGE') and has_function_privilege(r.role, p.oid, 'EXECUTE'))
        order by 1, 2`,
      [SCHEMAS],
    );

    // Assertions: the history's range bounds (a read, stable); the end a person chooses for a status (checked
    // against the database clock: later than now, at most 7 days ahead); the stream hub's cursor, the moment up to
    // which the previous answer reported timeouts (it only bounds which of now()'s decisions are listed; volatile for
    // its row locks); and the liveness rule itself: SQL functions of their arguments, not security definer, that the
    // views call as their reader and that decide nothing on their own.
    const agentHistory = APP_FUNCTIONS[0]!;
    const timeInStatusFor = 'presence.time_in_status_for(presence.tenant_key,presence.agent_key,date,date)';
    const pure = { definer: false, volatility: 's', language: 'sql' };
    expect(rows).toEqual([
      { function: 'presence.agent_day(presence.tenant_key,presence.agent_key,date)', name: 'p_date', definer: true, volatility: 's', language: 'plpgsql' },
      { function: agentHistory, name: 'p_from', definer: true, volatility: 's', language: 'plpgsql' },
      { function: agentHistory, name: 'p_to', definer: true, volatility: 's', language: 'plpgsql' },
      { function: 'presence.current_status(text,timestamp with time zone,timestamp with time zone,integer)', name: 'p_last_seen', ...pure },
      { function: 'presence.current_status(text,timestamp with time zone,timestamp with time zone,integer)', name: 'p_until', ...pure },
      { function: 'presence.effective_status(text,timestamp with time zone,integer)', name: 'p_last_seen', ...pure },
      { function: 'presence.offline_at(timestamp with time zone,integer)', name: 'p_last_seen', ...pure },
      { function: 'presence.set_agent_status(presence.tenant_key,presence.agent_key,text,uuid,timestamp with time zone,text,text)', name: 'p_until', definer: true, volatility: 'v', language: 'sql' },
      { function: 'presence.set_status(presence.tenant_key,presence.agent_key,text,uuid,timestamp with time zone,text,text)', name: 'p_until', definer: true, volatility: 'v', language: 'sql' },
      { function: timeInStatusFor, name: 'p_from_day', definer: true, volatility: 's', language: 'plpgsql' },
      { function: timeInStatusFor, name: 'p_to_day', definer: true, volatility: 's', language: 'plpgsql' },
      { function: 'presence.timeout_at(timestamp with time zone,integer,timestamp with time zone)', name: 'p_last_seen', ...pure },
      { function: 'presence.timeout_at(timestamp with time zone,integer,timestamp with time zone)', name: 'p_status_since', ...pure },
      { function: 'presence.timeouts_due(presence.tenant_key[],timestamp with time zone[])', name: 'p_after', definer: true, volatility: 'v', language: 'plpgsql' },
    ]);
  });

  it('every function of presence and presence_accounts that can write is security definer with search_path pinned to nothing', async () => {
    // PostgreSQL refuses a write in a stable or immutable function, so the writers are among the volatile ones.
    const { rows } = await db.query<{ function: string; definer: boolean; config: string[] | null }>(
      `select p.oid::regprocedure::text as function, p.prosecdef as definer, p.proconfig as config
         from pg_proc p join pg_namespace n on n.oid = p.pronamespace
        where n.nspname in ('presence', 'presence_accounts') and p.provolatile = 'v'
        order by 1`,
    );
    // Volatile because a salt is random, and writing nothing: owner-only (see the lists above).
    const hashing = ['presence_accounts.bcrypt(text,integer)', 'presence_accounts.bcrypt_matches(text,text)'];
    const writers = rows.filter((r) => !hashing.includes(r.function));
    expect(rows.map((r) => r.function)).toEqual(expect.arrayContaining(hashing));
    expect(writers.length).toBeGreaterThanOrEqual(15);
    for (const r of writers) {
      expect({ function: r.function, definer: r.definer, searchPath: r.config?.find((c) => c.startsWith('search_path=')) }).toEqual({
        function: r.function,
        definer: true,
        searchPath: 'search_path=""',
      });
    }
  });

  it('every security definer function of ours pins its search_path', async () => {
    const { rows } = await db.query(
      `select p.oid::regprocedure::text as function, p.proconfig as config
         from pg_proc p join pg_namespace n on n.oid = p.pronamespace
        where n.nspname = any($1) and p.prosecdef
          and not exists (select 1 from unnest(coalesce(p.proconfig, '{}')) c where c like 'search_path=%')`,
      [[...OUR_SCHEMAS, 'public']],
    );
    expect(rows).toEqual([]);
  });

  it('every function, table and view of presence, presence_private and presence_accounts has a comment', async () => {
    const { rows } = await db.query(
      `select p.oid::regprocedure::text as object
         from pg_proc p join pg_namespace n on n.oid = p.pronamespace
        where n.nspname = any($1) and obj_description(p.oid, 'pg_proc') is null
          and not exists (select 1 from pg_depend d where d.classid = 'pg_proc'::regclass and d.objid = p.oid and d.deptype = 'e')
       union all
       select c.oid::regclass::text
         from pg_class c join pg_namespace n on n.oid = c.relnamespace
        where n.nspname = any($1) and c.relkind in ('r', 'p', 'v', 'm') and obj_description(c.oid, 'pg_class') is null`,
      [OUR_SCHEMAS],
    );
    expect(rows).toEqual([]);
  });
});

describe('attacks by a login role that is a member of presence_app only, over TCP with its password', () => {
  let tenantA: string;
  let tenantB: string;
  let agentA: string;
  let agentB: string;
  const email = `victim-${randomUUID()}@example.com`;
  const victimPassword = 'correct horse battery staple';

  beforeAll(async () => {
    tenantA = await createTenant(db);
    tenantB = await createTenant(db);
    agentA = await createAgent(db, tenantA);
    await db.query(`select * from presence.heartbeat($1, $2, 'tab-a')`, [tenantA, agentA]);
    ({ agent_id: agentB } = (
      await db.query<{ agent_id: string }>(
        `select agent_id from presence_accounts.create_account($1, $2, 'Victim', 'client_admin', $3)`,
        [tenantB, email, victimPassword],
      )
    ).rows[0]!);
    await db.query(`select * from presence.heartbeat($1, $2, 'tab-b', 'active', 'sign-in-b')`, [tenantB, agentB]);
  });

  /** What an agent looks like to the owner: its row, its tabs and its events. */
  async function footprint(agent: string): Promise<unknown> {
    const { rows } = await db.query(
      `select row_to_json(a) as agent,
              (select row_to_json(st) from presence_private.agent_state st where st.agent_id = a.id) as state,
              (select json_agg(s order by s.session_id) from presence_private.sessions s where s.agent_id = a.id) as tabs,
              (select count(*) from presence.status_events e where e.agent_id = a.id) as events
         from human_agents a where a.id = $1`,
      [agent],
    );
    return rows[0];
  }

  it('the test logs in for real: the cluster asks for the password over TCP, and the role is no superuser', async () => {
    // Action
    const wrong = await login(INTRUDER, 'not-the-password').then(
      async (c) => {
        await c.end();
        return 'ok';
      },
      (error: { code?: string }) => error.code,
    );
    const { rows } = await intruder.query(
      `select current_user as user, inet_server_addr() is not null as tcp, r.rolsuper as superuser,
              pg_has_role(current_user, 'presence_app', 'USAGE') as app, pg_has_role(current_user, 'postgres', 'MEMBER') as owner
         from pg_roles r where r.rolname = current_user`,
    );

    // Assertions
    expect(wrong).toBe('28P01');
    expect(rows).toEqual([{ user: INTRUDER, tcp: true, superuser: false, app: true, owner: false }]);
  });

  it('cannot forge the clock: sweep_stale_agents(infinity) is denied and takes nobody of any tenant offline', async () => {
    // Setup
    const before = [await footprint(agentA), await footprint(agentB)];

    // Action
    const results = {
      sweepInfinity: await attempt(intruder, `select presence.sweep_stale_agents('infinity')`),
      sweepNow: await attempt(intruder, 'select presence.sweep_stale_agents()'),
      // the signatures that took a clock on old main are gone, or were never the app's
      sessionUserAt: await attempt(intruder, `select * from presence.session_user('\\x00'::bytea, '2000-01-01')`),
      openChatAt: await attempt(intruder, 'select presence.open_chat($1, $2::timestamptz)', [tenantA, '2100-01-01']),
      heartbeatAt: await attempt(intruder, `select * from presence.heartbeat($1, $2, 'tab-a', 'active', null, 'infinity'::timestamptz)`, [
        tenantA,
        agentA,
      ]),
      releaseChats: await attempt(intruder, 'select presence.release_chats($1)', [agentA]),
      markOffline: await attempt(intruder, 'select presence.mark_offline($1, $2)', [tenantA, agentA]),
    };
    // ... and what it can execute that takes a time argument at all
    const { rows: timed } = await intruder.query(
      `select distinct p.oid::regprocedure::text as function
         from pg_proc p join pg_namespace n on n.oid = p.pronamespace
        where has_schema_privilege(n.oid, 'USAGE') and has_function_privilege(p.oid, 'EXECUTE')
          and n.nspname = any($1)
          and p.proargtypes::oid[] && array['timestamptz'::regtype, 'timestamp'::regtype, 'interval'::regtype]::oid[]
        order by 1`,
      [SCHEMAS],
    );

    // Assertions
    expect(results).toEqual({
      sweepInfinity: DENIED,
      sweepNow: DENIED,
      sessionUserAt: NO_SUCH_FUNCTION,
      openChatAt: NO_SUCH_FUNCTION,
      heartbeatAt: NO_SUCH_FUNCTION,
      releaseChats: DENIED,
      markOffline: DENIED,
    });
    expect(timed.map((r) => r.function)).toEqual([
      APP_FUNCTIONS[0],
      'presence.current_status(text,timestamp with time zone,timestamp with time zone,integer)',
      'presence.effective_status(text,timestamp with time zone,integer)',
      'presence.offline_at(timestamp with time zone,integer)',
      'presence.set_agent_status(presence.tenant_key,presence.agent_key,text,uuid,timestamp with time zone,text,text)',
      'presence.set_status(presence.tenant_key,presence.agent_key,text,uuid,timestamp with time zone,text,text)',
      'presence.timeout_at(timestamp with time zone,integer,timestamp with time zone)',
    ]);
    expect([await footprint(agentA), await footprint(agentB)]).toEqual(before);
  });

  it('cannot mint a session: a wrong password makes none, the lifetime is capped (no start_session(user, hash, 2147483647) for 68 years), no function hands out a hash and the internals are denied', async () => {
    // Setup
    const token = randomBytes(32);
    const tokenHash = createHash('sha256').update(token).digest();
    const sessionsOf = async (): Promise<number> =>
      Number(
        (
          await db.query<{ n: string }>(
            `select count(*) as n from presence_accounts.auth_sessions s join presence_accounts.users u on u.id = s.user_id
              where u.email = $1`,
            [email],
          )
        ).rows[0]!.n,
      );

    // Action
    const wrong = await intruder.query('select * from presence_accounts.sign_in($1, $2, $3, $4, 3600)', [
      email,
      'a guess',
      '203.0.113.7',
      tokenHash,
    ]);
    const seenAfterWrong = await intruder.query('select * from presence_accounts.session_users(array[$1::bytea])', [tokenHash]);
    const forever = await attempt(intruder, 'select * from presence_accounts.sign_in($1, $2, $3, $4, 2147483647)', [
      email,
      victimPassword,
      '203.0.113.7',
      tokenHash,
    ]);
    const denied = {
      loginCandidate: await attempt(intruder, `select * from presence.login_candidate($1)`, [email]),
      startSession: await attempt(intruder, `select presence.start_session($1::uuid, $2, 2147483647)`, [randomUUID(), tokenHash]),
      bcrypt: await attempt(intruder, `select presence_accounts.bcrypt('x', 4)`),
      bcryptMatches: await attempt(intruder, `select presence_accounts.bcrypt_matches('x', 'y')`),
      passwordSecret: await attempt(intruder, `select presence_accounts.password_secret('x')`),
      crypt: await attempt(intruder, `select presence_crypto.crypt('x', presence_crypto.gen_salt('bf'))`),
      createAccount: await attempt(intruder, `select * from presence_accounts.create_account($1, $2, 'Mallory', 'client_admin', 'mallory-password')`, [
        tenantB,
        `mallory-${randomUUID()}@example.com`,
      ]),
      createTenant: await attempt(intruder, `select presence_accounts.create_tenant('evil')`),
      revokeSessions: await attempt(intruder, 'select presence_accounts.revoke_sessions($1::uuid)', [randomUUID()]),
      configureSignIn: await attempt(intruder, 'select presence_accounts.configure_sign_in(p_max_session_ttl_s => 31536000)'),
      liftSignInLock: await attempt(intruder, `select presence_accounts.lift_sign_in_lock(null, '203.0.113.7')`),
      signInWait: await attempt(intruder, `select presence_accounts.sign_in_wait($1, '203.0.113.7')`, [email]),
      lockSignIns: await attempt(intruder, 'select * from presence_accounts.sign_in_verifications for update'),
      insertSession: await attempt(
        intruder,
        `insert into presence_accounts.auth_sessions (token_hash, user_id, created_at, expires_at)
         select $1, u.id, now(), 'infinity' from presence_accounts.users u where u.email = $2`,
        [tokenHash, email],
      ),
      readHashes: await attempt(intruder, 'select password_hash from presence_accounts.users'),
      readServerLogin: await attempt(intruder, 'select password from presence_private.server_login'),
    };
    // Every column of every function it can execute, by name: none is a password or a hash of one.
    const { rows: columns } = await intruder.query<{ function: string; column: string }>(
      `select p.oid::regprocedure::text as function, coalesce(x.name, a.attname) as column
         from pg_proc p join pg_namespace n on n.oid = p.pronamespace
         left join lateral unnest(p.proargnames, p.proargmodes) x(name, mode) on x.mode in ('o', 'b', 't')
         left join pg_type t on t.oid = p.prorettype and t.typrelid <> 0
         left join pg_attribute a on a.attrelid = t.typrelid and a.attnum > 0
        where n.nspname = any($1) and has_schema_privilege(n.oid, 'USAGE') and has_function_privilege(p.oid, 'EXECUTE')`,
      [SCHEMAS],
    );

    // Assertions
    expect(wrong.rows).toEqual([{ outcome: 'invalid', retry_after_s: null, legacy_params: null }]);
    expect(seenAfterWrong.rows).toEqual([]);
    expect(forever).toBe('PRUSR');
    expect(await sessionsOf()).toBe(0);
    expect(denied).toEqual({
      loginCandidate: NO_SUCH_FUNCTION,
      startSession: NO_SUCH_FUNCTION,
      bcrypt: DENIED,
      bcryptMatches: DENIED,
      passwordSecret: DENIED,
      crypt: DENIED,
      createAccount: DENIED,
      createTenant: DENIED,
      revokeSessions: DENIED,
      configureSignIn: DENIED,
      liftSignInLock: DENIED,
      signInWait: DENIED,
      lockSignIns: DENIED,
      insertSession: DENIED,
      readHashes: DENIED,
      readServerLogin: DENIED,
    });
    expect(columns.length).toBeGreaterThan(10);
    expect(columns.filter((c) => /password|hash/i.test(c.column ?? ''))).toEqual([]);
  });

  it('cannot act on an agent of another tenant: every call naming tenant A and an agent of B is refused with PRAGT and changes nothing', async () => {
    // Setup
    const chatB = (await db.query<{ id: string }>('select presence.open_chat($1) as id', [tenantB])).rows[0]!.id;
    const before = { agentA: await footprint(agentA), agentB: await footprint(agentB) };
    const chatBefore = (await db.query('select * from presence_private.chats where id = $1', [chatB])).rows;

    // Action
    const results = {
      heartbeat: await attempt(intruder, `select * from presence.heartbeat($1, $2, 'tab-b', 'active', 'sign-in-b')`, [tenantA, agentB]),
      heartbeats: await attempt(
        intruder,
        'select * from presence.heartbeats($1, $2, $3, $4, $5)',
        [
          [tenantA, tenantA],
          [agentA, agentB],
          ['tab-a', 'tab-b'],
          ['active', 'active'],
          [null, 'sign-in-b'],
        ],
      ),
      setStatus: await attempt(intruder, `select presence.set_status($1, $2, 'dnd')`, [tenantA, agentB]),
      endSession: await attempt(intruder, `select presence.end_session($1, $2, 'tab-b')`, [tenantA, agentB]),
      endSignIn: await attempt(intruder, `select presence.end_sign_in($1, $2, 'sign-in-b')`, [tenantA, agentB]),
      agentHistory: await attempt(intruder, 'select * from presence.agent_history($1, $2)', [tenantA, agentB]),
      closeChat: await attempt(intruder, 'select presence.close_chat($1, $2)', [tenantA, chatB]),
      assignChat: await attempt(intruder, 'select * from presence.assign_chat($1)', [tenantA]),
    };

    // Assertions
    expect(results).toEqual({
      heartbeat: 'PRAGT',
      heartbeats: 'PRAGT',
      setStatus: 'PRAGT',
      endSession: 'PRAGT',
      endSignIn: 'PRAGT',
      agentHistory: 'PRAGT',
      closeChat: 'ok', // no such chat in tenant A: nothing to close
      assignChat: 'ok', // tenant A has no queued chat: B's stays queued
    });
    expect({ agentA: await footprint(agentA), agentB: await footprint(agentB) }).toEqual(before);
    expect((await db.query('select * from presence_private.chats where id = $1', [chatB])).rows).toEqual(chatBefore);
  });

  it('cannot read any table, of its tenant or another, nor enqueue worker jobs or schedule cron jobs', async () => {
    // Action
    const results: Record<string, string> = {};
    for (const sql of [
      'select * from human_agents',
      'select * from tenants',
      'select * from presence.status_events',
      'select * from presence.tenant_settings',
      'select * from presence_private.agent_state',
      'select * from presence_private.sessions',
      'select * from presence_private.chats',
      'select * from presence_accounts.users',
      'select * from presence_accounts.auth_sessions',
      `update human_agents set status = 'available'`,
      `select graphile_worker.add_job('release_chats', '{}')`,
      `select cron.schedule('evil', '* * * * *', 'select 1')`,
      'select * from cron.job',
    ]) {
      results[sql] = await attempt(intruder, sql);
    }

    // Assertions
    for (const [sql, code] of Object.entries(results)) expect(code, sql).toBe(DENIED);
  });

  it('cannot become someone else: set role postgres and set session authorization are denied, reset role after set role presence_app gives back no more than the login role has', async () => {
    // Setup
    const whatICanDo = async (): Promise<string[]> =>
      (
        await intruder.query<{ f: string }>(
          `select p.oid::regprocedure::text as f from pg_proc p join pg_namespace n on n.oid = p.pronamespace
            where n.nspname = any($1) and has_schema_privilege(n.oid, 'USAGE') and has_function_privilege(p.oid, 'EXECUTE')
           union all
           select c.oid::regclass::text from pg_class c join pg_namespace n on n.oid = c.relnamespace
            where n.nspname = any($1) and has_schema_privilege(n.oid, 'USAGE') and has_any_column_privilege(c.oid, 'SELECT')
           order by 1`,
          [SCHEMAS],
        )
      ).rows.map((r) => r.f);
    const before = await whatICanDo();

    // Action
    const results = {
      setRolePostgres: await attempt(intruder, 'set role postgres'),
      setSessionAuthorization: await attempt(intruder, 'set session authorization postgres'),
      setRoleAnalyst: await attempt(intruder, 'set role presence_analyst'),
      setRoleApp: await attempt(intruder, 'set role presence_app'),
      resetRole: await attempt(intruder, 'reset role'),
    };
    const who = (await intruder.query('select current_user as u, session_user as s')).rows[0];
    const after = await whatICanDo();
    const sweepAfterReset = await attempt(intruder, 'select presence.sweep_stale_agents()');

    // Assertions
    expect(results).toEqual({
      setRolePostgres: DENIED,
      setSessionAuthorization: DENIED,
      setRoleAnalyst: DENIED,
      setRoleApp: 'ok',
      resetRole: 'ok',
    });
    expect(who).toEqual({ u: INTRUDER, s: INTRUDER });
    expect(after).toEqual(before);
    expect(sweepAfterReset).toBe(DENIED);
  });

  it('cannot create objects: nothing in public (PostgreSQL 15), in our schemas or as a new schema', async () => {
    // Action
    const results = {
      tableInPublic: await attempt(intruder, 'create table public.intruder (id int)'),
      functionInPublic: await attempt(intruder, `create function public.now() returns timestamptz language sql as $$select 'infinity'::timestamptz$$`),
      viewInPresence: await attempt(intruder, 'create view presence.intruder as select 1'),
      tableInAccounts: await attempt(intruder, 'create table presence_accounts.intruder (id int)'),
      schema: await attempt(intruder, 'create schema intruder'),
    };

    // Assertions
    expect(results).toEqual({
      tableInPublic: DENIED,
      functionInPublic: DENIED,
      viewInPresence: DENIED,
      tableInAccounts: DENIED,
      schema: DENIED,
    });
  });
});

describe('an analyst: a login role that is a member of presence_analyst, over TCP', () => {
  it('reads what analysts read: human_agents, tenants, status events, settings and the views', async () => {
    for (const sql of [
      'select id, last_seen, status from human_agents limit 1',
      'select id, name from tenants limit 1',
      'select * from presence.status_events limit 1',
      'select * from presence.tenant_settings limit 1',
      'select * from presence.agent_presence limit 1',
      'select * from presence.time_in_status limit 1',
      'select * from presence.settings limit 1',
      'select * from presence.sweep_scheduler()',
    ]) {
      expect(await attempt(reader, sql), sql).toBe('ok');
    }
  });

  it('cannot create a client_admin in another tenant nor read password hashes, through presence.create_account, presence.login_candidate or otherwise', async () => {
    // Setup
    const tenant = await createTenant(db);
    const email = `analyst-made-${randomUUID()}@example.com`;

    // Action
    const results = {
      oldCreateAccount: await attempt(reader, `select * from presence.create_account($1::uuid, $2, 'Evil', 'client_admin', 'evil-password', 5)`, [
        tenant,
        email,
      ]),
      createAccount: await attempt(reader, `select * from presence_accounts.create_account($1, $2, 'Evil', 'client_admin', 'evil-password')`, [
        tenant,
        email,
      ]),
      loginCandidate: await attempt(reader, 'select * from presence.login_candidate($1)', [email]),
      readHashes: await attempt(reader, 'select email, password_hash from presence_accounts.users'),
      signIn: await attempt(reader, `select * from presence_accounts.sign_in($1, 'evil-password', '203.0.113.7', $2, 3600)`, [
        email,
        randomBytes(32),
      ]),
    };
    const { rows: made } = await db.query('select id from presence_accounts.users where email = $1', [email]);

    // Assertions
    expect(results).toEqual({
      oldCreateAccount: NO_SUCH_FUNCTION,
      createAccount: DENIED,
      loginCandidate: NO_SUCH_FUNCTION,
      readHashes: DENIED,
      signIn: DENIED,
    });
    expect(made).toEqual([]);
  });

  it('cannot execute any function that can write: every volatile function of every schema is denied to it', async () => {
    // Action: the volatile functions it could execute, enumerated as itself; then each write of the API, tried
    const { rows: executable } = await reader.query(
      `select p.oid::regprocedure::text as function from pg_proc p join pg_namespace n on n.oid = p.pronamespace
        where n.nspname = any($1) and p.provolatile = 'v'
          and has_schema_privilege(n.oid, 'USAGE') and has_function_privilege(p.oid, 'EXECUTE')`,
      [SCHEMAS],
    );
    const tenant = await createTenant(db);
    const agent = await createAgent(db, tenant);
    const tried: Record<string, string> = {};
    for (const sql of [
      `select * from presence.heartbeat($1, $2, 'tab')`,
      `select presence.set_status($1, $2, 'dnd')`,
      `select presence.end_session($1, $2, 'tab')`,
      `select presence.end_sign_in($1, $2, 'sign-in')`,
      'select presence.mark_offline($1, $2)',
    ]) {
      tried[sql] = await attempt(reader, sql, [tenant, agent]);
    }
    for (const sql of [
      'select presence.sweep_stale_agents()',
      `select presence.configure_tenant('${tenant}', 10, 20)`,
      `select presence.open_chat('${tenant}')`,
      `select * from presence.assign_chat('${tenant}')`,
      `select presence.release_chats('${agent}')`,
      `update human_agents set status = 'available' where id = '${agent}'`,
      `insert into presence.status_events (tenant_id, agent_id, from_status, to_status, mechanism, at)
         values ('${tenant}', '${agent}', 'offline', 'available', 'manual', now())`,
    ]) {
      tried[sql] = await attempt(reader, sql);
    }

    // Assertions
    expect(executable).toEqual([]);
    for (const [sql, code] of Object.entries(tried)) expect(code, sql).toBe(DENIED);
    expect(
      (
        await db.query(
          `select h.status, coalesce(s.chosen_status, 'available') as chosen_status
             from human_agents h left join presence_private.agent_state s on s.agent_id = h.id where h.id = $1`,
          [agent],
        )
      ).rows,
    ).toEqual([{ status: 'offline', chosen_status: 'available' }]);
  });
});
