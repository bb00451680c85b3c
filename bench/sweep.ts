// Sweep time: the wall time of `select presence.sweep_stale_agents($now)` over 10k, 100k and 1M agents, all online
// with 1 % stale, and over 1M agents of which 100k are online and 1 % of those stale (most agents of a large
// platform are offline at any moment). Median of several runs, each on the same stale agents made stale again, with
// whatever schema the migrations made (an index that helps shows here). Also the floor under each: one pass that
// only finds the stale agents, without locking or writing anything.
import { performance } from 'node:perf_hooks';
import type pg from 'pg';
import { withClient } from './cluster.ts';
import { restoreStale, seedAgents } from './seed.ts';
import type { TenantLayout } from './tenants.ts';
import { median, round } from './stats.ts';

export const SWEEP_KEYS = ['10k', '100k', '1m', '1m_100k_online'] as const;
export type SweepKey = (typeof SWEEP_KEYS)[number];
const ALL_ONLINE: Array<[SweepKey, number]> = [
  ['10k', 10_000],
  ['100k', 100_000],
  ['1m', 1_000_000],
];
const STALE_EVERY = 100;

export interface SweepResult {
  /** Median wall time of the sweep call, ms. */
  sweep_ms: Record<SweepKey, number>;
  /** Every run, ms. */
  sweep_runs_ms: Record<SweepKey, number[]>;
  /** Median time of finding the stale agents alone (no locks, no writes), ms. */
  sweep_scan_floor_ms: Record<SweepKey, number>;
  /** Agents each sweep took offline. */
  swept: Record<SweepKey, number>;
  /** The plan of the sweep's scan at 1M agents with 100k online (EXPLAIN of the floor query). */
  plan_1m_100k_online: string;
  seed_seconds: number;
}

export async function measureSweep(
  url: string,
  {
    runs,
    layout,
    log,
    onlyLargest = false,
  }: {
    runs: number;
    layout: TenantLayout;
    log: (m: string) => void;
    /** Seed 1M agents at once and measure 1m_100k_online only (a check of one change; the report needs all four). */
    onlyLargest?: boolean;
  },
): Promise<SweepResult> {
  // Beats are dated, not "now": the sweep takes p_now, so a slow seed never makes live agents stale.
  const at = new Date(Date.now() - 60_000);
  const sweepAt = new Date(at.getTime() + 30_000);
  const result: SweepResult = {
    sweep_ms: {} as Record<SweepKey, number>,
    sweep_runs_ms: {} as Record<SweepKey, number[]>,
    sweep_scan_floor_ms: {} as Record<SweepKey, number>,
    swept: {} as Record<SweepKey, number>,
    plan_1m_100k_online: '',
    seed_seconds: 0,
  };
  return withClient(url, async (c) => {
    const measure = async (key: SweepKey, expected: number) => {
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
      if (swept !== expected) throw new Error(`sweep ${key} took ${swept} agents offline, expected ${expected}`);
      result.sweep_ms[key] = round(median(times));
      result.sweep_runs_ms[key] = times.map((t) => round(t));
      result.sweep_scan_floor_ms[key] = round(median(floors));
      result.swept[key] = swept;
      log(`sweep ${key}: ${result.sweep_ms[key]} ms (runs ${result.sweep_runs_ms[key].join(', ')}; scan floor ${result.sweep_scan_floor_ms[key]} ms)`);
    };
    const settle = async () => {
      await c.query('vacuum analyze public.human_agents');
      await c.query('vacuum analyze presence_private.agent_state');
      await c.query('vacuum analyze presence_private.sessions');
    };

    let seeded = 0;
    for (const [key, size] of ALL_ONLINE) {
      if (onlyLargest && size < 1_000_000) continue;
      const t0 = performance.now();
      await seedAgents(c, layout, seeded + 1, size, { at, staleEvery: STALE_EVERY });
      seeded = size;
      await settle();
      result.seed_seconds += (performance.now() - t0) / 1000;
      if (!onlyLargest) await measure(key, size / STALE_EVERY);
    }

    // 1M agents, 100k of them online (every 10th), 1 % of those stale (every 1000th): the others went offline two
    // hours ago and have no tab.
    const t0 = performance.now();
    await c.query('begin');
    await c.query(`create temporary table bench_n on commit drop as
                   select a.id, ('x' || right(a.id::text, 12))::bit(48)::bigint as n from public.human_agents a`);
    await c.query(
      `update presence_private.agent_state a
          set status = 'offline', status_mechanism = 'timeout', last_seen = $1::timestamptz - interval '2 hours'
         from bench_n b where b.id = a.agent_id and b.n % 10 <> 0`,
      [at],
    );
    await c.query(
      `update presence_private.agent_state a
          set status = 'available', status_mechanism = 'heartbeat',
              last_seen = case when b.n % 1000 = 0 then $1::timestamptz - interval '1 hour' else $1::timestamptz end
         from bench_n b where b.id = a.agent_id and b.n % 10 = 0`,
      [at],
    );
    await c.query(
      `update public.human_agents h set status = a.status, last_seen = a.last_seen
         from presence_private.agent_state a where a.agent_id = h.id`,
    );
    await c.query('delete from presence_private.sessions s using bench_n b where b.id = s.agent_id and b.n % 10 <> 0');
    await c.query('commit');
    await settle();
    await c.query('checkpoint');
    result.seed_seconds = round(result.seed_seconds + (performance.now() - t0) / 1000);
    result.plan_1m_100k_online = (
      await c.query<{ 'QUERY PLAN': string }>(`explain ${FLOOR_SQL}`, [sweepAt])
    ).rows.map((r) => r['QUERY PLAN']).join('\n');
    await measure('1m_100k_online', 1000);
    return result;
  });
}

async function sweepOnce(c: pg.Client, now: Date): Promise<{ ms: number; count: number }> {
  const t0 = performance.now();
  const { rows } = await c.query<{ n: number }>('select presence.sweep_stale_agents($1) as n', [now]);
  return { ms: performance.now() - t0, count: rows[0]!.n };
}

// The sweep's own condition (presence.sweep_stale_agents), without the lock, the join with the settings and the
// writes: what any plan has to find.
const FLOOR_SQL = `select count(*) from presence_private.agent_state a
                    where a.status <> 'offline' and presence.offline_at(a.last_seen, 90) <= $1::timestamptz`;

async function scanFloor(c: pg.Client, now: Date): Promise<number> {
  // One process, as the sweep's locking scan (FOR UPDATE plans are never parallel).
  await c.query('begin');
  await c.query('set local max_parallel_workers_per_gather = 0');
  const t0 = performance.now();
  await c.query(FLOOR_SQL, [now]);
  const ms = performance.now() - t0;
  await c.query('commit');
  return ms;
}
