// The run's figures as bench/results/latest.json and as markdown tables.
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { projectRoot } from '../server/config.ts';
import type { HotResult } from './hot.ts';
import { INTERVAL_S, type HttpResult, type Step } from './http.ts';
import type { SweepKey, SweepResult } from './sweep.ts';
import { round } from './stats.ts';
import type { Variant } from './variants.ts';

// Capacity in agents has no target: it is what this machine carries, reported with the machine. bare Express has no
// database at all, so the heartbeat's share of its rate is bounded by what the same cores allow with PostgreSQL on
// them (heartbeat_vs_bare_ceiling, from the CPU per request).
export const TARGETS = {
  capacity_p99_ms: 50,
  heartbeat_vs_bare: 0.5,
  heartbeat_vs_noop: 0.9,
  heartbeat_vs_redis: 1.0,
  heartbeat_vs_seed: 3,
  sweep_1m_100k_online_ms: 50,
  hot_ratio: 0.95,
  size_growth: 0.1,
  db_calls_per_beat: 1,
  streams_queries_per_s_steady: 1,
} as const;

export interface Machine {
  cpus: number;
  cpu_model: string;
  memory_gib: number;
  node: string;
  /** 1-minute load average when the run started and when it ended: other work on the machine skews figures. */
  load_start: number;
  load_end: number;
}

export function machineNow(): Machine {
  return {
    cpus: cpus().length,
    cpu_model: cpus()[0]?.model ?? 'unknown',
    memory_gib: round(totalmem() / 2 ** 30),
    node: process.version,
    load_start: round(loadavg()[0]!, 2),
    load_end: round(loadavg()[0]!, 2),
  };
}

/** The commit measured, and the files under db/, server/ and bench/ that differed from it (others' work in the checkout). */
export function gitState(): { commit: string; commit_dirty: boolean; uncommitted: string[] } {
  try {
    const commit = execFileSync('git', ['rev-parse', 'HEAD'], { cwd: projectRoot, encoding: 'utf8' }).trim();
    const status = execFileSync('git', ['status', '--porcelain', '--', 'db', 'server', 'bench'], { cwd: projectRoot, encoding: 'utf8' });
    const uncommitted = status
      .split('\n')
      .filter(Boolean)
      .map((l) => l.slice(3))
      .filter((f) => !f.startsWith('bench/results/'));
    return { commit, commit_dirty: uncommitted.length > 0, uncommitted };
  } catch {
    return { commit: 'unknown', commit_dirty: true, uncommitted: [] };
  }
}

export interface Report {
  commit: string;
  /** True when db/, server/ or bench/ had changes the commit does not hold: the figures are of that tree. */
  commit_dirty: boolean;
  uncommitted: string[];
  /** Agents (each beating every 30 s) the heartbeat held with p99 <= 50 ms and no error: the machine's capacity. */
  capacity_agents: number;
  capacity_p99_ms: number | null;
  /** At that rate: CPU per request (µs) of the serving processes, PostgreSQL, the load generator, the streams, other work. */
  capacity_cpu_us_per_request: Record<string, number> | null;
  capacity_round_trips_per_request: number | null;
  /**
   * Agents the machine's two cores would carry if the server and PostgreSQL had them alone (no load generator, no
   * other work), at the CPU per request measured at capacity: cores / (Node + PostgreSQL + streams) * 30 s. An
   * estimate, steadier than the capacity on a shared machine; not a promise of p99.
   */
  capacity_agents_cpu_bound: number | null;
  capacity_beats_per_call: number | null;
  heartbeat_vs_noop: number | null;
  heartbeat_vs_redis: number | null;
  heartbeat_vs_seed: number | null;
  heartbeat_vs_bare: number | null;
  /**
   * The heartbeat / bare Express ratio the machine would allow if both were bound by CPU alone: bare's CPU per
   * request (the serving processes, PostgreSQL, the load generator, the streams) over the heartbeat's, each at its
   * capacity.
   */
  heartbeat_vs_bare_ceiling: number | null;
  /** Database statements the server sends for one beat sent alone (the stream hub's reads left out). */
  db_calls_per_beat: number | null;
  /** The stream hub's statements a second, whole server, with every supervisor's stream open and nothing changing. */
  streams_queries_per_s_steady: number | null;
  /** Largest rate held per variant, req/s. */
  rates_held: Partial<Record<Variant, number>>;
  sweep_ms: Record<SweepKey, number>;
  hot_ratio: number;
  size_growth: number;
  targets: typeof TARGETS;
  met: Record<keyof typeof TARGETS, boolean>;
  mode: 'quick' | 'full';
  time: string;
  machine: Machine;
  database: { own_cluster: boolean; settings: Record<string, string> };
  duration_s: number;
  http: HttpResult;
  sweep: SweepResult;
  hot: HotResult;
}

export function buildReport(input: {
  quick: boolean;
  started: number;
  machine: Machine;
  database: Report['database'];
  http: HttpResult;
  sweep: SweepResult;
  hot: HotResult;
}): Report {
  const { http, sweep, hot } = input;
  const held = (v: Variant) => http.variants[v]?.rate_held ?? null;
  const ratio = (v: Variant) => {
    const base = held(v);
    const hb = held('heartbeat');
    return base && hb !== null ? round(hb / base, 2) : null;
  };
  const capacity: Step | null = http.variants.heartbeat?.at_capacity ?? null;
  const report: Omit<Report, 'met'> = {
    ...gitState(),
    capacity_agents: Math.round((held('heartbeat') ?? 0) * INTERVAL_S),
    capacity_p99_ms: capacity?.load.p99_ms ?? null,
    capacity_cpu_us_per_request: capacity?.cpu_us_per_request ?? null,
    capacity_round_trips_per_request: capacity?.round_trips_per_request ?? null,
    capacity_agents_cpu_bound: capacity ? cpuBound(capacity, input.machine.cpus) : null,
    capacity_beats_per_call: capacity?.beats_per_heartbeats_call ?? null,
    heartbeat_vs_noop: ratio('noop'),
    heartbeat_vs_redis: ratio('redis'),
    heartbeat_vs_seed: ratio('seed'),
    heartbeat_vs_bare: ratio('bare'),
    heartbeat_vs_bare_ceiling: ceiling(http.variants.bare?.at_capacity ?? null, capacity),
    db_calls_per_beat: http.variants.heartbeat?.steady?.db_calls_per_beat ?? null,
    streams_queries_per_s_steady: http.variants.heartbeat?.steady?.streams_queries_per_s ?? null,
    rates_held: Object.fromEntries(Object.entries(http.variants).map(([v, r]) => [v, r.rate_held])),
    sweep_ms: sweep.sweep_ms,
    hot_ratio: hot.hot_ratio,
    size_growth: hot.size_growth,
    targets: TARGETS,
    mode: input.quick ? 'quick' : 'full',
    time: new Date().toISOString(),
    machine: { ...input.machine, load_end: round(loadavg()[0]!, 2) },
    database: input.database,
    duration_s: round((Date.now() - input.started) / 1000),
    http,
    sweep,
    hot,
  };
  const atLeast = (x: number | null, t: number) => x !== null && x >= t;
  return {
    ...report,
    met: {
      capacity_p99_ms: report.capacity_p99_ms !== null && report.capacity_p99_ms <= TARGETS.capacity_p99_ms,
      heartbeat_vs_bare: atLeast(report.heartbeat_vs_bare, TARGETS.heartbeat_vs_bare),
      heartbeat_vs_noop: atLeast(report.heartbeat_vs_noop, TARGETS.heartbeat_vs_noop),
      heartbeat_vs_redis: atLeast(report.heartbeat_vs_redis, TARGETS.heartbeat_vs_redis),
      heartbeat_vs_seed: atLeast(report.heartbeat_vs_seed, TARGETS.heartbeat_vs_seed),
      sweep_1m_100k_online_ms: report.sweep_ms['1m_100k_online'] <= TARGETS.sweep_1m_100k_online_ms,
      hot_ratio: report.hot_ratio >= TARGETS.hot_ratio,
      size_growth: report.size_growth <= TARGETS.size_growth,
      db_calls_per_beat: report.db_calls_per_beat !== null && report.db_calls_per_beat <= TARGETS.db_calls_per_beat,
      streams_queries_per_s_steady:
        report.streams_queries_per_s_steady !== null && report.streams_queries_per_s_steady <= TARGETS.streams_queries_per_s_steady,
    },
  };
}

function ceiling(bare: Step | null, heartbeat: Step | null): number | null {
  if (!bare || !heartbeat) return null;
  const total = (s: Step) => Object.values(s.cpu_us_per_request).reduce((a, b) => a + b, 0) - (s.cpu_us_per_request.other ?? 0);
  return total(heartbeat) > 0 ? round(total(bare) / total(heartbeat), 2) : null;
}

function cpuBound(step: Step, cores: number): number {
  const c = step.cpu_us_per_request;
  const perRequest = (c.node ?? 0) + (c.postgres ?? 0) + (c.streams ?? 0);
  return perRequest > 0 ? Math.round(((cores * 1e6) / perRequest) * INTERVAL_S) : 0;
}

export function writeReport(report: Report, file = join(projectRoot, 'bench', 'results', 'latest.json')): string {
  file = resolve(file);
  mkdirSync(join(file, '..'), { recursive: true });
  writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
  return file;
}

const yes = (ok: boolean) => (ok ? 'yes' : '**no**');
const pct = (x: number) => `${round(x * 100, 1)} %`;
const LABELS: Record<Variant, string> = {
  heartbeat: 'heartbeat (presence_accounts.heartbeats, batched)',
  noop: 'no-op beat, same sign-in lookup',
  redis: 'Redis ZADD, same sign-in lookup',
  seed: 'original design (read tenant, find, update), same sign-in lookup',
  bare: 'bare Express 5 (JSON parser, constant, no auth)',
};

export function markdownTables(r: Report): string {
  const lines = [
    `| variant (${r.http.processes} serving processes, ${r.http.connections} connections, open loop, mixed turns) | largest rate held, req/s: median (the rounds) | agents at 30 s | p50 ms | p99 ms | CPU µs/request: Node / PostgreSQL / load generator / other | statements / request | machine meanwhile: SHA-256 of 16 MiB / 8 KiB fsync, ms |`,
    '|---|---:|---:|---:|---:|---|---:|---|',
  ];
  for (const [v, result] of Object.entries(r.http.variants) as Array<[Variant, NonNullable<HttpResult['variants'][Variant]>]>) {
    const s = result.at_capacity;
    const c = s?.cpu_us_per_request;
    lines.push(
      `| ${LABELS[v]} | ${result.rate_held} (${result.rates_held.join(', ')}) | ${Math.round(result.rate_held * INTERVAL_S).toLocaleString('en')} | ${s?.load.p50_ms ?? '-'} | ${s?.load.p99_ms ?? '-'} | ` +
        `${c ? `${c.node} / ${c.postgres} / ${c.load} / ${c.other}` : '-'} | ${s?.round_trips_per_request ?? '-'} | ${result.probe.cpu_ms} / ${result.probe.fsync_ms} |`,
    );
  }
  const ratio = (x: number | null) => (x === null ? 'n/a' : String(x));
  lines.push(
    '',
    '| measure | value | target | met |',
    '|---|---:|---:|:---:|',
    `| capacity: agents beating every 30 s, p99 <= 50 ms, no error (${r.http.tenants.shape === 'realistic' ? 'tenants of every size' : `tenants of ${r.http.tenants.shape}`}) | ${r.capacity_agents.toLocaleString('en')} | as measured | |`,
    `| p99 at that load | ${r.capacity_p99_ms ?? 'n/a'} ms | <= ${TARGETS.capacity_p99_ms} ms | ${yes(r.met.capacity_p99_ms)} |`,
    `| agents the CPU per request allows, cores to the server and PostgreSQL alone (estimate) | ${r.capacity_agents_cpu_bound?.toLocaleString('en') ?? 'n/a'} | | |`,
    `| database statements per request at capacity | ${r.capacity_round_trips_per_request ?? 'n/a'} | | |`,
    `| heartbeat / bare Express (ceiling the CPU per request allows: ${ratio(r.heartbeat_vs_bare_ceiling)}) | ${ratio(r.heartbeat_vs_bare)} | >= ${TARGETS.heartbeat_vs_bare} | ${yes(r.met.heartbeat_vs_bare)} |`,
    `| heartbeat / no-op (same sign-in lookup) | ${ratio(r.heartbeat_vs_noop)} | >= ${TARGETS.heartbeat_vs_noop} | ${yes(r.met.heartbeat_vs_noop)} |`,
    `| heartbeat / Redis (same sign-in lookup) | ${ratio(r.heartbeat_vs_redis)} | >= ${TARGETS.heartbeat_vs_redis} | ${yes(r.met.heartbeat_vs_redis)} |`,
    `| heartbeat / original design | ${ratio(r.heartbeat_vs_seed)} | >= ${TARGETS.heartbeat_vs_seed} | ${yes(r.met.heartbeat_vs_seed)} |`,
    `| beats per presence_accounts.heartbeats call at capacity | ${r.capacity_beats_per_call ?? 'n/a'} | | |`,
    `| database calls for one beat sent alone | ${r.db_calls_per_beat ?? 'n/a'} | <= ${TARGETS.db_calls_per_beat} | ${yes(r.met.db_calls_per_beat)} |`,
    `| stream queries a second, every supervisor watching, nothing changing | ${r.streams_queries_per_s_steady ?? 'n/a'} | <= ${TARGETS.streams_queries_per_s_steady} | ${yes(r.met.streams_queries_per_s_steady)} |`,
    `| sweep, 10k / 100k agents, all online, 1 % stale | ${r.sweep_ms['10k']} / ${r.sweep_ms['100k']} ms | | |`,
    `| sweep, 1M agents, all online, 1 % stale | ${r.sweep_ms['1m']} ms | | |`,
    `| sweep, 1M agents, 100k online, 1 % of those stale | ${r.sweep_ms['1m_100k_online']} ms | <= ${TARGETS.sweep_1m_100k_online_ms} ms | ${yes(r.met.sweep_1m_100k_online_ms)} |`,
    `| HOT updates over ${r.hot.beats.toLocaleString('en')} beats | ${pct(r.hot_ratio)} | >= ${pct(TARGETS.hot_ratio)} | ${yes(r.met.hot_ratio)} |`,
    `| table + index growth over those beats | ${pct(r.size_growth)} | <= ${pct(TARGETS.size_growth)} | ${yes(r.met.size_growth)} |`,
    '',
    `${r.mode} run, ${r.time}, commit ${r.commit.slice(0, 7)}${r.commit_dirty ? ` (+ uncommitted: ${r.uncommitted.join(', ')})` : ''}; ` +
      `${r.machine.cpus} × ${r.machine.cpu_model}, Node ${r.machine.node}, PostgreSQL ${r.database.settings.server_version ?? '?'} ` +
      `(fsync ${r.database.settings.fsync}, synchronous_commit ${r.database.settings.synchronous_commit}, shared_buffers ${r.database.settings.shared_buffers}); ` +
      `load average ${r.machine.load_start} at start, ${r.machine.load_end} at end; ${r.duration_s} s.`,
  );
  return lines.join('\n');
}
