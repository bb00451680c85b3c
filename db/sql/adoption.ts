// What the migrations need to know before the first of them runs: the type the platform gave human_agents.last_seen
// (1795500000000 changes it, 1795500000420 gives it back), which columns presence needs it lacked (1795500000000
// adds them, 1795500000430 takes them off again and keeps their values in presence's state), and whether this role may read cron.database_name.
import type { Database } from '../../server/database/handle.ts';

/**
 * The type of the platform's public.human_agents.last_seen ('none' without one), while presence is not installed
 * yet; null once it is (the type it had then is no longer known) or when there is no platform's table to adopt.
 */
export async function adoptedLastSeen(db: Database): Promise<string | null> {
  const { rows } = await db.query<{ type: string | null }>(
    `select case when to_regnamespace('presence') is null and to_regclass('public.human_agents') is not null
                 then coalesce((select format_type(a.atttypid, a.atttypmod) from pg_attribute a
                                 where a.attrelid = to_regclass('public.human_agents') and a.attname = 'last_seen'
                                   and not a.attisdropped), 'none') end as type`,
  );
  return rows[0]!.type;
}

/** The columns of the platform's public.human_agents that presence reads or writes (status, last_seen, active_chats, max_chats). */
export const PLATFORM_COLUMNS = ['status', 'last_seen', 'active_chats', 'max_chats'] as const;

/**
 * Which of PLATFORM_COLUMNS the platform's public.human_agents lacks, as a PostgreSQL array literal ('{}' when it has
 * them all), while presence is not installed yet; null once it is (1795500000000 added what was missing, and an
 * earlier release did not record it) or when there is no platform's table to adopt. 1795500000430 keeps what was
 * missing in presence's own state and takes the columns 1795500000000 added off the platform's table again.
 */
export async function adoptedLacking(db: Database): Promise<string | null> {
  const { rows } = await db.query<{ lacking: string | null }>(
    `select case when to_regnamespace('presence') is null and to_regclass('public.human_agents') is not null
                 then (select coalesce(array_agg(c.name order by c.ord), '{}')::text
                         from unnest($1::text[]) with ordinality as c(name, ord)
                        where not exists (select 1 from pg_attribute a
                                           where a.attrelid = to_regclass('public.human_agents')
                                             and a.attname = c.name and not a.attisdropped)) end as lacking`,
    [PLATFORM_COLUMNS],
  );
  return rows[0]!.lacking;
}

/**
 * The schema of the stand-in for current_setting that a migration session of a role without the right to read
 * cron.database_name finds first, while the landed 1795500000003 (which reads it) is still to run. PostgreSQL
 * raises for that setting (superuser only) even with missing_ok. pg_cron can only be created in the database
 * cron.database_name names, so "pg_cron is created here" answers the one question 1795500000003 asks.
 */
export const SETTINGS_SHIM_SCHEMA = 'presence_settings_shim';

export async function needsSettingsShim(db: Database): Promise<boolean> {
  const { rows } = await db.query<{ needed: boolean }>(
    `select to_regnamespace('presence') is null
            and not (select r.rolsuper from pg_roles r where r.rolname = current_user)
            and not pg_has_role(current_user, 'pg_read_all_settings', 'usage') as needed`,
  );
  return rows[0]!.needed;
}

export async function installSettingsShim(db: Database): Promise<void> {
  await db.query(`create schema ${SETTINGS_SHIM_SCHEMA}`);
  await db.query(
    `create function ${SETTINGS_SHIM_SCHEMA}.current_setting(p_name text, p_missing_ok boolean)
     returns text
     language sql stable
     as $$
       select case when p_name = 'cron.database_name'
                   then (select current_database()::text from pg_catalog.pg_extension e where e.extname = 'pg_cron')
                   else pg_catalog.current_setting(p_name, p_missing_ok) end
     $$`,
  );
  // pg_catalog named after it: otherwise PostgreSQL searches pg_catalog first.
  await db.query(`set search_path = ${SETTINGS_SHIM_SCHEMA}, pg_catalog, "$user", public`);
}

export async function dropSettingsShim(db: Database): Promise<void> {
  await db.query('reset search_path');
  await db.query(`drop function if exists ${SETTINGS_SHIM_SCHEMA}.current_setting(text, boolean)`);
  await db.query(`drop schema if exists ${SETTINGS_SHIM_SCHEMA}`);
}
