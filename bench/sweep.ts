// Sweep time at 10k, 100k and 1M live agents (one browser session each) with 1 % stale: the wall time of
// `select presence.sweep_stale_agents($now)`, median of several runs, each on the same 1 % made stale again.
// Also the floor under it: one sequential pass over human_agents with the staleness filter and nothing else.
import { performance } from 'node:perf_hooks';
import type pg from 'pg';
import { withClient } from './cluster.ts';
import { restoreStale, seedAgents, STALE_EVERY } from './seed.ts';
import { median, round } from './stats.ts';

export const SWEEP_SIZES = { '10k': 10_000, '100k': 100_000, '1m': 1_000_000 } as const;
export type SweepSize = keyof typeof SWEEP_SIZES;

export interface SweepResult {
  /** Median wall time of the sweep call, ms. */
  sweep_ms: Record<SweepSize, number>;
  /** Every run, ms. */
  sweep_runs_ms: Record<SweepSize, number[]>;
  /** Median time of the bare staleness scan over human_agents (no locks, no writes), ms: what no plan beats. */
  sweep_scan_floor_ms: Record<SweepSize, number>;
  /** Agents each sweep took offline. */
  swept: Record<SweepSize, number>;
  seed_seconds: number;
}

export async function measureSweep(
  url: string,
  { runs, log }: { runs: number; log: (m: string) => void },
): Promise<SweepResult> {
  // Beats are dated, not "now": the sweep takes p_now, so a slow seed never makes live agents stale.
  const at = new Date(Date.now() - 60_000);
  const sweepAt = new Date(at.getTime() + 30_000);
  const result: SweepResult = {
    sweep_ms: {} as Record<SweepSize, number>,
    sweep_runs_ms: {} as Record<SweepSize, number[]>,
    sweep_scan_floor_ms: {} as Record<SweepSize, number>,
    swept: {} as Record<SweepSize, number>,
    seed_seconds: 0,
  };
  return withClient(url, async (c) => {
    let seeded = 0;
    for (const [label, size] of Object.entries(SWEEP_SIZES) as Array<[SweepSize, number]>) {
      const t0 = performance.now();
      await seedAgents(c, seeded + 1, size, at);
      seeded = size;
      await c.query('vacuum analyze public.human_agents');
      await c.query('vacuum analyze presence_private.sessions');
      result.seed_seconds += (performance.now() - t0) / 1000;

      // One unmeasured sweep first: in production the table is hot in shared buffers, kept there by the beats.
      await sweepOnce(c, sweepAt);
      const times: number[] = [];
      const floors: number[] = [];
      let swept = 0;
      for (let i = 0; i < runs; i++) {
        await restoreStale(c, at);
        floors.push(await scanFloor(c, sweepAt));
        const { ms, count } = await sweepOnce(c, sweepAt);
        times.push(ms);
        swept = count;
      }
      if (swept !== size / STALE_EVERY) throw new Error(`sweep at ${label} took ${swept} agents offline, expected ${size / STALE_EVERY}`);
      result.sweep_ms[label] = round(median(times));
      result.sweep_runs_ms[label] = times.map((t) => round(t));
      result.sweep_scan_floor_ms[label] = round(median(floors));
      result.swept[label] = swept;
      log(`sweep ${label}: ${result.sweep_ms[label]} ms (runs ${result.sweep_runs_ms[label].join(', ')}; scan floor ${result.sweep_scan_floor_ms[label]} ms)`);
    }
    result.seed_seconds = round(result.seed_seconds);
    return result;
  });
}

async function sweepOnce(c: pg.Client, now: Date): Promise<{ ms: number; count: number }> {
  const t0 = performance.now();
  const { rows } = await c.query<{ n: number }>('select presence.sweep_stale_agents($1) as n', [now]);
  return { ms: performance.now() - t0, count: rows[0]!.n };
}

async function scanFloor(c: pg.Client, now: Date): Promise<number> {
  // One process, as the sweep's locking scan (FOR UPDATE plans are never parallel).
  await c.query('begin');
  await c.query('set local max_parallel_workers_per_gather = 0');
  const t0 = performance.now();
  await c.query(
    `select count(*) from public.human_agents a
      where a.status <> 'offline' and a.last_seen < $1::timestamptz - interval '90 seconds'`,
    [now],
  );
  const ms = performance.now() - t0;
  await c.query('commit');
  return ms;
}
