// presence_private.remote_cron_job (owner only): the pg_cron job that `cron install` made in another database to
// sweep this one, so that `cron` and `cron uninstall` find it. One row at most.
import type { Database } from '../../database/handle.ts';

export interface RemoteCronJob {
  database_name: string;
  job_name: string;
}

export async function remoteCronJob(db: Database): Promise<RemoteCronJob | null> {
  const { rows } = await db.query<RemoteCronJob>('select database_name, job_name from presence_private.remote_cron_job');
  return rows[0] ?? null;
}

export async function recordRemoteCronJob(db: Database, database: string, job: string, schedule: string): Promise<void> {
  await db.query(
    `insert into presence_private.remote_cron_job (database_name, job_name, schedule) values ($1, $2, $3)
     on conflict (id) do update set database_name = excluded.database_name, job_name = excluded.job_name,
                                    schedule = excluded.schedule, installed_at = now()`,
    [database, job, schedule],
  );
}

export async function forgetRemoteCronJob(db: Database): Promise<void> {
  await db.query('delete from presence_private.remote_cron_job');
}
