// pg_cron's side of the sweep, for `cron`, `cron install` and `cron uninstall`: where pg_cron lives, its jobs and
// their recent runs. Each runs on a connection to the database it names (this one, or pg_cron's).
import type { Database } from '../../database/handle.ts';

/**
 * The server's pg_cron database (null when pg_cron is not loaded), and this database's name. cron.database_name is
 * readable by superusers and members of pg_read_all_settings only (PostgreSQL raises even with missing_ok): any
 * other role, a managed database's owner, learns it from pg_extension, since pg_cron can only be created in that
 * database, and gets null (unknown) elsewhere.
 */
export async function cronDatabase(db: Database): Promise<{ cronDb: string | null; here: string }> {
  const { rows } = await db.query<{ cron_db: string | null; here: string }>(
    `select case when (select r.rolsuper from pg_roles r where r.rolname = current_user)
                      or pg_has_role(current_user, 'pg_read_all_settings', 'usage')
                 then current_setting('cron.database_name', true)
                 else (select current_database()::text from pg_extension where extname = 'pg_cron') end as cron_db,
            current_database()::text as here`,
  );
  return { cronDb: rows[0]!.cron_db, here: rows[0]!.here };
}

export async function pgCronCreated(db: Database): Promise<boolean> {
  const installed = await db.query(`select 1 from pg_extension where extname = 'pg_cron'`);
  return Boolean(installed.rowCount);
}

/** The job presence-sweep in pg_cron's own database (an upsert). */
export async function scheduleSweepHere(db: Database, schedule: string): Promise<void> {
  await db.query(`select cron.schedule('presence-sweep', $1, 'select presence.sweep_stale_agents()')`, [schedule]);
}

/** A job in pg_cron's database that sweeps `database`. */
export async function scheduleSweepIn(db: Database, job: string, schedule: string, database: string): Promise<void> {
  await db.query(`select cron.schedule_in_database($1, $2, 'select presence.sweep_stale_agents()', $3)`, [job, schedule, database]);
}

export async function unscheduleJob(db: Database, job: string): Promise<void> {
  await db.query(`select cron.unschedule(jobid) from cron.job where jobname = $1`, [job]);
}

export interface CronRun {
  start_time: Date | null;
  end_time: Date | null;
  status: string;
  return_message: string | null;
}

/** The newest `limit` runs of a job, from cron.job_run_details. */
export async function recentRuns(db: Database, job: string, limit: number): Promise<CronRun[]> {
  const { rows } = await db.query<CronRun>(
    `select d.start_time, d.end_time, d.status, d.return_message
       from cron.job_run_details d join cron.job j on j.jobid = d.jobid
      where j.jobname = $1
      order by d.start_time desc nulls last limit $2`,
    [job, limit],
  );
  return rows;
}
