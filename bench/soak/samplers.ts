// What the soak samples every --sample s: the server's memory and event loop (its /metrics), the database's
// connections by application, the tables that could grow, and the beats answered since the last sample.
import { loadavg } from 'node:os';
import type { Harness } from './harness.ts';
import type { BeatLoad } from './load.ts';
import { quantile, round } from '../stats.ts';

export const TABLES = [
  'public.human_agents',
  'presence_private.agent_state',
  'presence_private.sessions',
  'presence_accounts.auth_sessions',
  'presence.status_events',
  'presence_accounts.sign_in_failures',
] as const;

export interface Sample {
  t: number;
  rss_mb: number;
  heap_used_mb: number;
  event_loop_p99_ms: number;
  event_loop_max_ms: number;
  open_streams: number;
  db_connections: number;
  db_connections_by_app: Record<string, number>;
  beats: number;
  beats_ok: number;
  beats_other: Record<string, number>;
  beat_errors: number;
  beat_p50_ms: number;
  beat_p99_ms: number;
  tables: Record<string, { rows: number; dead: number; table_kb: number; index_kb: number }>;
  load_average: number;
}

export function metric(text: string, name: string): number {
  const match = new RegExp(`^${name}(?:\\{[^}]*\\})? ([0-9.e+-]+)$`, 'm').exec(text);
  return match ? Number(match[1]) : Number.NaN;
}


export async function sample(h: Harness, load: BeatLoad, t0: number, from: number, to: number): Promise<Sample> {
  const metricsText = await (await fetch(`${h.base()}/metrics`)).text();
  const { rows: connections } = await h.db.owner.query<{ app: string; n: string }>(
    `select coalesce(nullif(application_name, ''), backend_type) as app, count(*) as n
       from pg_stat_activity where datname = current_database() and application_name <> 'soak-driver' group by 1`,
  );
  const tables: Sample['tables'] = {};
  for (const table of TABLES) {
    const { rows } = await h.db.owner.query<{ rows: string; dead: string; table_kb: string; index_kb: string }>(
      `select (select count(*) from ${table}) as rows, coalesce(s.n_dead_tup, 0) as dead,
              pg_table_size($1::regclass) / 1024 as table_kb, pg_indexes_size($1::regclass) / 1024 as index_kb
         from pg_stat_user_tables s where s.relid = $1::regclass`,
      [table],
    );
    const r = rows[0]!;
    tables[table] = { rows: Number(r.rows), dead: Number(r.dead), table_kb: Number(r.table_kb), index_kb: Number(r.index_kb) };
  }
  const { answers, errors } = load.between(from, to);
  const other: Record<string, number> = {};
  for (const a of answers) if (a.status !== 200) other[a.status] = (other[a.status] ?? 0) + 1;
  const byApp = Object.fromEntries(connections.map((c) => [c.app, Number(c.n)]));
  return {
    t: Math.round((to - t0) / 1000),
    rss_mb: round(metric(metricsText, 'process_resident_memory_bytes') / 2 ** 20),
    heap_used_mb: round(metric(metricsText, 'nodejs_heap_size_used_bytes') / 2 ** 20),
    event_loop_p99_ms: round(metric(metricsText, 'nodejs_eventloop_lag_p99_seconds') * 1000, 2),
    event_loop_max_ms: round(metric(metricsText, 'nodejs_eventloop_lag_max_seconds') * 1000, 2),
    open_streams: metric(metricsText, 'presence_open_streams'),
    db_connections: Object.values(byApp).reduce((a, b) => a + b, 0),
    db_connections_by_app: byApp,
    beats: answers.length,
    beats_ok: answers.filter((a) => a.status === 200).length,
    beats_other: other,
    beat_errors: errors,
    beat_p50_ms: round(quantile(answers.map((a) => a.ms), 0.5)),
    beat_p99_ms: round(quantile(answers.map((a) => a.ms), 0.99)),
    tables,
    load_average: round(loadavg()[0]!, 2),
  };
}
