// What `presence check` reads from the catalogs: each function returns what is missing or wrong (an empty list when
// all is in place), so that the command only words the verdicts. Read-only; the owner's connection.
import type { Database } from '../../database/handle.ts';

/** Presence's schemas and graphile-worker's (its jobs are enqueued by presence's functions). */
export const SCHEMAS = ['presence', 'presence_private', 'presence_accounts', 'presence_migrations', 'graphile_worker'];

/** The functions presence's server, worker and sweep call, by name (in schema presence). */
export const FUNCTIONS = [
  'heartbeat', 'heartbeats', 'end_session', 'end_sign_in', 'set_status', 'mark_offline', 'sweep_stale_agents',
  'release_chats', 'open_chat', 'assign_chat', 'close_chat', 'configure_tenant', 'sign_ins_ended',
  'status_changes_after', 'agent_history', 'sweep_scheduler', 'sweep_runs',
];

/** The views the server and analysts read (in schema presence). */
export const VIEWS = ['agent_presence', 'settings', 'time_in_status'];

/** The group role of the request path's login (presence_server, or the platform's APP_DATABASE_URL role). */
export const APP_ROLE = 'presence_app';
export const SERVER_LOGIN = 'presence_server';

/** What the request path calls (server/presence/sql, the exported end_sign_in): presence_app must execute each. */
export const REQUEST_PATH_FUNCTIONS = [
  'heartbeat', 'heartbeats', 'end_session', 'end_sign_in', 'set_status', 'sign_ins_ended', 'status_changes_after',
  'agent_history', 'sweep_scheduler', 'sweep_runs',
];

export async function missingSchemas(db: Database): Promise<string[]> {
  const { rows } = await db.query<{ name: string }>(
    `select s.name from unnest($1::text[]) s(name)
      where not exists (select 1 from pg_namespace n where n.nspname = s.name) order by s.name`,
    [SCHEMAS],
  );
  return rows.map((r) => r.name);
}

/** Functions and views presence needs that are not there, as `presence.name`. */
export async function missingObjects(db: Database): Promise<string[]> {
  const { rows } = await db.query<{ name: string }>(
    `select 'presence.' || f.name || '()' as name from unnest($1::text[]) f(name)
      where not exists (select 1 from pg_proc p where p.pronamespace = to_regnamespace('presence') and p.proname = f.name)
     union all
     select 'view presence.' || v.name from unnest($2::text[]) v(name)
      where to_regclass('presence.' || quote_ident(v.name)) is null
     order by 1`,
    [FUNCTIONS, VIEWS],
  );
  return rows.map((r) => r.name);
}

/** What the request path's roles lack: the role itself, schema usage, execute on what it calls. */
export async function missingGrants(db: Database): Promise<string[]> {
  const { rows } = await db.query<{ missing: string }>(
    `with role as (select $1::text as app, $2::text[] as calls, $3::text as login,
                          exists (select 1 from pg_roles where rolname = $1::text) as present)
     select format('role %s', app) as missing from role where not present
     union all
     select format('%s: usage on schema presence', app) from role
      where present and case when to_regnamespace('presence') is null then false
                              else not has_schema_privilege(app, 'presence', 'usage') end
     union all
     select format('%s: execute on %s', app, p.oid::regprocedure) from role, pg_proc p
      where present and p.pronamespace = to_regnamespace('presence') and p.proname = any (calls)
        and not has_function_privilege(app, p.oid, 'execute')
     union all
     select format('%s: select on presence.%s', app, v.name) from role, unnest(array['agent_presence', 'settings']) v(name)
      where present and to_regclass('presence.' || v.name) is not null
        and not has_table_privilege(app, ('presence.' || v.name)::regclass, 'select')
     union all
     select format('%s: member of %s', login, app) from role
      where present and case when exists (select 1 from pg_roles where rolname = login)
                             then not pg_has_role(login, app, 'usage') else false end
     order by 1`,
    [APP_ROLE, REQUEST_PATH_FUNCTIONS, SERVER_LOGIN],
  );
  return rows.map((r) => r.missing);
}

/** Functions of presence's schemas (not an extension's) that PUBLIC may execute. */
export async function publicFunctions(db: Database): Promise<string[]> {
  const { rows } = await db.query<{ name: string }>(
    `select p.oid::regprocedure::text as name from pg_proc p join pg_namespace n on n.oid = p.pronamespace
      where n.nspname like 'presence%'
        and not exists (select 1 from pg_depend d where d.classid = 'pg_proc'::regclass and d.objid = p.oid and d.deptype = 'e')
        and exists (select 1 from aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) a
                     where a.grantee = 0 and a.privilege_type = 'EXECUTE')
      order by 1`,
  );
  return rows.map((r) => r.name);
}

/** Names of the migrations applied (presence_migrations.migrations), or null when they never ran. */
export async function appliedMigrations(db: Database): Promise<string[] | null> {
  const { rows } = await db.query<{ present: boolean }>(
    `select to_regclass('presence_migrations.migrations') is not null as present`,
  );
  if (!rows[0]!.present) return null;
  const applied = await db.query<{ name: string }>('select name from presence_migrations.migrations order by name');
  return applied.rows.map((r) => r.name);
}

export interface PlatformColumn {
  table: string;
  column: string;
  /** format_type of the column, null when the column is absent. */
  type: string | null;
  /** The type's category (pg_type.typcategory): S string, N numeric, D date/time, E enum, U user... */
  category: string | null;
  /** An enum's labels. */
  labels: string[] | null;
  /** For the keys: the base type of presence's domain for them (presence.tenant_key, presence.agent_key). */
  expected: string | null;
}

/** The platform's columns presence reads, as they are now, with what presence's key domains expect of the keys. */
export async function platformColumns(db: Database): Promise<PlatformColumn[]> {
  const { rows } = await db.query<PlatformColumn>(
    `with wanted(tbl, col, domain) as (values
       ('tenants', 'id', 'tenant_key'), ('human_agents', 'id', 'agent_key'), ('human_agents', 'tenant_id', 'tenant_key'),
       ('human_agents', 'status', null), ('human_agents', 'name', null), ('human_agents', 'email', null),
       ('human_agents', 'last_seen', null), ('human_agents', 'active_chats', null), ('human_agents', 'max_chats', null))
     select w.tbl as table, w.col as column, format_type(a.atttypid, a.atttypmod) as type, t.typcategory as category,
            (select array_agg(e.enumlabel::text order by e.enumsortorder) from pg_enum e where e.enumtypid = a.atttypid) as labels,
            (select format_type(d.typbasetype, d.typtypmod) from pg_type d
              where d.typnamespace = to_regnamespace('presence') and d.typname = w.domain) as expected
       from wanted w
       left join pg_attribute a on a.attrelid = to_regclass('public.' || w.tbl) and a.attname = w.col
                               and a.attnum > 0 and not a.attisdropped
       left join pg_type t on t.oid = a.atttypid`,
  );
  return rows;
}

/**
 * What of presence's is on the platform's tables: the columns, constraints and indexes its first migrations put on
 * public.human_agents, and any trigger on the platform's tables that runs a function of presence's schemas. The
 * checks of active_chats and max_chats are not among them: PostgreSQL gives a platform's own check on those columns
 * the same names, and presence writes the columns' values.
 */
export async function footprintOnPlatform(db: Database): Promise<string[]> {
  const { rows } = await db.query<{ what: string }>(
    `select format('column human_agents.%s', a.attname) as what from pg_attribute a
      where a.attrelid = to_regclass('public.human_agents') and not a.attisdropped
        and a.attname in ('chosen_status', 'status_reason', 'status_since')
     union all
     select format('constraint %s', c.conname) from pg_constraint c
      where c.conrelid = to_regclass('public.human_agents')
        and c.conname in ('human_agents_tenant_id_id_key', 'human_agents_chosen_status_check')
     union all
     select format('index %s', i.relname) from pg_index x join pg_class i on i.oid = x.indexrelid
      where x.indrelid = to_regclass('public.human_agents')
        and i.relname in ('human_agents_online_idx', 'human_agents_offline_holding_idx')
     union all
     select format('trigger %s on %s', g.tgname, g.tgrelid::regclass) from pg_trigger g
       join pg_proc p on p.oid = g.tgfoid join pg_namespace n on n.oid = p.pronamespace
      where g.tgrelid in (to_regclass('public.tenants'), to_regclass('public.human_agents')) and n.nspname like 'presence%'
     order by 1`,
  );
  return rows.map((r) => r.what);
}
