// presence.sweep_runs: how many sweeps have run, by whichever scheduler (pg_cron or the worker's fallback).
import type { Database } from '../../database/handle.ts';

export async function sweepRuns(db: Database): Promise<number> {
  const { rows } = await db.query<{ runs: string }>('select presence.sweep_runs() as runs');
  return Number(rows[0]!.runs);
}
