// HOT updates and growth: table-plus-index size of human_agents, presence_private.agent_state and
// presence_private.sessions, and the share of
// their updates that were HOT (pg_stat_user_tables), before and after a number of beats through presence.heartbeats,
// the batch the server calls. The beats come from several connections at once, in batches of distinct agents (one
// round trip per batch, so the driver is not the limit), every agent in turn, the agents of one batch scattered
// over the table, as the concurrent beats of unrelated browsers are.
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { withClient } from './cluster.ts';
import { agentUuid, seedAgents, tabId, tenantUuid } from './seed.ts';
import type { TenantLayout } from './tenants.ts';
import { round, sleep } from './stats.ts';

export interface HotResult {
  agents: number;
  beats: number;
  connections: number;
  batch: number;
  seconds: number;
  /** Beats per second through presence.heartbeats in this driver (SQL level, batched). */
  beats_per_s: number;
  hot_ratio: number;
  size_before_bytes: number;
  size_after_bytes: number;
  size_growth: number;
  /** Per table: updates, HOT updates (during the run) and size before/after, bytes. */
  tables: Record<string, { updates: number; hot_ratio: number; size_before_bytes: number; size_after_bytes: number }>;
  /** Whether the time limit stopped the run before `beats`. */
  stopped_by_time_limit: boolean;
}

interface Stats {
  size: number;
  upd: number;
  hot: number;
  tables: Record<string, { size: number; upd: number; hot: number }>;
}

/** A prime: coprime with every agent count that is a multiple of 50. */
const STRIDE = 7919;

const TABLES = ['public.human_agents', 'presence_private.agent_state', 'presence_private.sessions'];

async function stats(c: pg.Client): Promise<Stats> {
  await c.query('select pg_stat_clear_snapshot()');
  const { rows } = await c.query<{ name: string; size: string; upd: string; hot: string }>(
    `select relid::regclass::text as name, pg_total_relation_size(relid) as size, n_tup_upd as upd, n_tup_hot_upd as hot
       from pg_stat_user_tables where relid = any($1::regclass[])`,
    [TABLES],
  );
  const tables = Object.fromEntries(
    rows.map((r) => [r.name, { size: Number(r.size), upd: Number(r.upd), hot: Number(r.hot) }]),
  );
  const sum = (k: 'size' | 'upd' | 'hot') => Object.values(tables).reduce((n, t) => n + t[k], 0);
  return { size: sum('size'), upd: sum('upd'), hot: sum('hot'), tables };
}

export async function measureHot(
  url: string,
  options: {
    agents: number;
    layout: TenantLayout;
    beats: number;
    connections: number;
    batch: number;
    timeLimitS: number;
    log: (m: string) => void;
  },
): Promise<HotResult> {
  const { agents, layout, beats, connections, batch, timeLimitS, log } = options;
  const firstAgent = 1;
  const before = await withClient(url, async (c) => {
    await seedAgents(c, layout, firstAgent, firstAgent + agents - 1, { at: new Date() });
    await c.query('vacuum analyze public.human_agents');
    await c.query('vacuum analyze presence_private.agent_state');
    await c.query('vacuum analyze presence_private.sessions');
    await c.query('checkpoint');
    return stats(c);
  });

  const tenants = Array.from({ length: agents }, (_, i) => tenantUuid(layout.tenantOf(firstAgent + i)));
  const ids = Array.from({ length: agents }, (_, i) => agentUuid(firstAgent + i));
  const tabs = Array.from({ length: agents }, (_, i) => tabId(firstAgent + i, 0));
  let next = 0;
  let done = 0;
  const deadline = performance.now() + timeLimitS * 1000;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: connections }, async () => {
      const c = new pg.Client({ connectionString: url });
      await c.connect();
      try {
        while (next < beats && performance.now() < deadline) {
          const start = next;
          const n = Math.min(batch, beats - start);
          next += n;
          // Beat i goes to agent (i * STRIDE) mod agents: every agent once per round, and the agents of one
          // batch are far apart, on different pages, as the concurrent beats of unrelated browsers are.
          const slots = Array.from({ length: n }, (_, k) => ((start + k) * STRIDE) % agents);
          await c.query('select count(*) from presence.heartbeats($1, $2, $3, $4, $5)', [
            slots.map((s) => tenants[s]),
            slots.map((s) => ids[s]),
            slots.map((s) => tabs[s]),
            slots.map(() => 'active'),
            slots.map(() => null),
          ]);
          done += n;
        }
      } finally {
        await c.end();
      }
    }),
  );
  const seconds = (performance.now() - t0) / 1000;
  // Backends report their table statistics when they exit; give the last ones a moment.
  await sleep(1500);
  const after = await withClient(url, stats);
  const upd = after.upd - before.upd;
  const result: HotResult = {
    agents,
    beats: done,
    connections,
    batch,
    seconds: round(seconds),
    beats_per_s: Math.round(done / seconds),
    hot_ratio: round(upd ? (after.hot - before.hot) / upd : 0, 4),
    size_before_bytes: before.size,
    size_after_bytes: after.size,
    size_growth: round(after.size / before.size - 1, 4),
    tables: Object.fromEntries(
      Object.entries(after.tables).map(([name, t]) => {
        const b = before.tables[name] ?? { size: 0, upd: 0, hot: 0 };
        const u = t.upd - b.upd;
        return [name, { updates: u, hot_ratio: round(u ? (t.hot - b.hot) / u : 0, 4), size_before_bytes: b.size, size_after_bytes: t.size }];
      }),
    ),
    stopped_by_time_limit: done < beats,
  };
  log(
    `hot: ${done} beats over ${agents} agents in ${result.seconds} s (${result.beats_per_s}/s): ` +
      `${round(result.hot_ratio * 100)} % HOT, size ${round(before.size / 2 ** 20)} -> ${round(after.size / 2 ** 20)} MiB`,
  );
  return result;
}
