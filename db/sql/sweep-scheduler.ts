// presence.sweep_scheduler(): who sweeps this database (pg_cron, here or in another database, or graphile-worker's
// fallback), read by npm start's banner, `npx presence migrate` and `cron`, and `npm run db:migrate`.
import type { Database } from '../../server/database/handle.ts';

export interface SweepScheduler {
  scheduler: 'pg_cron' | 'graphile-worker';
  schedule: string;
  active: boolean;
  /** The database whose pg_cron runs the job (this one, unless `npx presence cron install` put it elsewhere). */
  database_name: string;
  last_run_at: Date | null;
  /** The job runs in this database. */
  here: boolean;
}

export async function sweepScheduler(db: Database): Promise<SweepScheduler> {
  const { rows } = await db.query<SweepScheduler>(
    'select s.*, s.database_name = current_database() as here from presence.sweep_scheduler() s',
  );
  return rows[0]!;
}
