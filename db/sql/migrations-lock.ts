// The migrations lock (an advisory lock on node-pg-migrate's key): taking it without waiting, and who holds it.
import type { Database } from '../../server/database/handle.ts';

/** Takes the session-level advisory lock `key` if it is free; whether it was. */
export async function tryAdvisoryLock(db: Database, key: bigint): Promise<boolean> {
  const { rows } = await db.query<{ ok: boolean }>('select pg_try_advisory_lock($1::bigint) as ok', [key.toString()]);
  return rows[0]!.ok;
}

export interface LockHolder {
  pid: number;
  role: string | null;
  application: string | null;
  client: string | null;
  /** A superuser, or a member of the role running this: a session that could be migrating. */
  can_migrate: boolean;
}

/** The session holding advisory lock `key` in this database, if any. */
export async function advisoryLockHolder(db: Database, key: bigint): Promise<LockHolder | undefined> {
  const { rows } = await db.query<LockHolder>(
    `select l.pid, a.usename as role, a.application_name as application, a.client_addr::text as client,
            coalesce(r.rolsuper or pg_has_role(r.oid, current_user, 'MEMBER'), false) as can_migrate
       from pg_locks l
       left join pg_stat_activity a on a.pid = l.pid
       left join pg_roles r on r.oid = a.usesysid
      where l.locktype = 'advisory' and l.granted and l.objsubid = 1
        and l.database = (select oid from pg_database where datname = current_database())
        and l.classid = ($1::bigint >> 32)::oid and l.objid = ($1::bigint & 4294967295)::oid`,
    [key.toString()],
  );
  return rows[0];
}
