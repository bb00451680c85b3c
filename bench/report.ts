// The run's figures as bench/results/latest.json and as a markdown table.
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { projectRoot } from '../server/config.ts';
import type { HotResult } from './hot.ts';
import type { HttpResult } from './http.ts';
import type { SweepResult } from './sweep.ts';
import { round } from './stats.ts';

export const TARGETS = {
  heartbeat_vs_noop: 0.9,
  heartbeat_vs_redis: 1.0,
  heartbeat_vs_seed: 3,
  p99_ms: 50,
  sweep_1m_ms: 100,
  hot_ratio: 0.95,
  size_growth: 0.1,
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

function gitCommit(): { commit: string; uncommitted: string[] } {
  try {
    const commit = execFileSync('git', ['rev-parse', 'HEAD'], { cwd: projectRoot, encoding: 'utf8' }).trim();
    const status = execFileSync('git', ['status', '--porcelain', '--', 'db', 'server', ':(glob)bench/*.ts'], {
      cwd: projectRoot,
      encoding: 'utf8',
    });
    return { commit, uncommitted: status.split('\n').filter(Boolean).map((l) => l.slice(3)) };
  } catch {
    return { commit: 'unknown', uncommitted: [] };
  }
}

export interface Report {
  heartbeat_rps: number;
  noop_rps: number;
  redis_rps: number;
  seed_rps: number;
  heartbeat_vs_noop: number;
  heartbeat_vs_redis: number;
  heartbeat_vs_seed: number;
  p50_ms: number;
  p99_ms: number;
  round_trips_per_heartbeat: number;
  sweep_ms: SweepResult['sweep_ms'];
  hot_ratio: number;
  size_growth: number;
  targets: typeof TARGETS;
  met: Record<keyof typeof TARGETS, boolean>;
  mode: 'quick' | 'full';
  time: string;
  commit: string;
  /** Files of db/, server/ and bench/ that differed from the commit (other work in the same checkout). */
  uncommitted: string[];
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
  const v = http.variants;
  const ratio = (baseline: 'noop' | 'redis' | 'seed') => http.paired_ratios[baseline]!.median;
  const report: Omit<Report, 'met'> = {
    heartbeat_rps: v.heartbeat.rps,
    noop_rps: v.noop.rps,
    redis_rps: v.redis.rps,
    seed_rps: v.seed.rps,
    heartbeat_vs_noop: ratio('noop'),
    heartbeat_vs_redis: ratio('redis'),
    heartbeat_vs_seed: ratio('seed'),
    p50_ms: v.heartbeat.p50_ms,
    p99_ms: v.heartbeat.p99_ms,
    round_trips_per_heartbeat: v.heartbeat.round_trips,
    sweep_ms: sweep.sweep_ms,
    hot_ratio: hot.hot_ratio,
    size_growth: hot.size_growth,
    targets: TARGETS,
    mode: input.quick ? 'quick' : 'full',
    time: new Date().toISOString(),
    ...gitCommit(),
    machine: { ...input.machine, load_end: round(loadavg()[0]!, 2) },
    database: input.database,
    duration_s: round((Date.now() - input.started) / 1000),
    http,
    sweep,
    hot,
  };
  return {
    ...report,
    met: {
      heartbeat_vs_noop: report.heartbeat_vs_noop >= TARGETS.heartbeat_vs_noop,
      heartbeat_vs_redis: report.heartbeat_vs_redis >= TARGETS.heartbeat_vs_redis,
      heartbeat_vs_seed: report.heartbeat_vs_seed >= TARGETS.heartbeat_vs_seed,
      p99_ms: report.p99_ms <= TARGETS.p99_ms,
      sweep_1m_ms: report.sweep_ms['1m'] <= TARGETS.sweep_1m_ms,
      hot_ratio: report.hot_ratio >= TARGETS.hot_ratio,
      size_growth: report.size_growth <= TARGETS.size_growth,
    },
  };
}

export function writeReport(report: Report, file = join(projectRoot, 'bench', 'results', 'latest.json')): string {
  file = resolve(file);
  mkdirSync(join(file, '..'), { recursive: true });
  writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
  return file;
}

const yes = (ok: boolean) => (ok ? 'yes' : '**no**');
const pct = (x: number) => `${round(x * 100, 1)} %`;

export function markdownTable(r: Report): string {
  const v = r.http.variants;
  const rows = [
    '| variant (POST /api/auth/heartbeat, 50 connections) | req/s | p50 ms | p99 ms | DB round trips / request |',
    '|---|---:|---:|---:|---:|',
    `| heartbeat (presence.heartbeat_for_session, batched) | ${v.heartbeat.rps} | ${v.heartbeat.p50_ms} | ${v.heartbeat.p99_ms} | ${v.heartbeat.round_trips} |`,
    `| no-op (constant answer) | ${v.noop.rps} | ${v.noop.p50_ms} | ${v.noop.p99_ms} | ${v.noop.round_trips} |`,
    `| Redis (ZADD, auto-pipelining) | ${v.redis.rps} | ${v.redis.p50_ms} | ${v.redis.p99_ms} | ${v.redis.round_trips} |`,
    `| original design (read tenant, find by e-mail, update) | ${v.seed.rps} | ${v.seed.p50_ms} | ${v.seed.p99_ms} | ${v.seed.round_trips} |`,
    '',
    '| measure | value | target | met |',
    '|---|---:|---:|:---:|',
    `| heartbeat / no-op (median of per-round ratios) | ${r.heartbeat_vs_noop} | >= ${TARGETS.heartbeat_vs_noop} | ${yes(r.met.heartbeat_vs_noop)} |`,
    `| heartbeat / Redis | ${r.heartbeat_vs_redis} | >= ${TARGETS.heartbeat_vs_redis} | ${yes(r.met.heartbeat_vs_redis)} |`,
    `| heartbeat / original design | ${r.heartbeat_vs_seed} | >= ${TARGETS.heartbeat_vs_seed} | ${yes(r.met.heartbeat_vs_seed)} |`,
    `| heartbeat p99 | ${r.p99_ms} ms | <= ${TARGETS.p99_ms} ms | ${yes(r.met.p99_ms)} |`,
    `| beats per database call (pg_stat_statements) | ${v.heartbeat.beats_per_call ?? 'n/a'} | | |`,
    `| sweep, 10k agents (1 % stale) | ${r.sweep_ms['10k']} ms | | |`,
    `| sweep, 100k agents (1 % stale) | ${r.sweep_ms['100k']} ms | | |`,
    `| sweep, 1M agents (1 % stale) | ${r.sweep_ms['1m']} ms | <= ${TARGETS.sweep_1m_ms} ms | ${yes(r.met.sweep_1m_ms)} |`,
    `| bare scan of 1M agents (floor under the sweep) | ${r.sweep.sweep_scan_floor_ms['1m']} ms | | |`,
    `| HOT updates over ${r.hot.beats.toLocaleString('en')} beats | ${pct(r.hot_ratio)} | >= ${pct(TARGETS.hot_ratio)} | ${yes(r.met.hot_ratio)} |`,
    `| table + index growth over those beats | ${pct(r.size_growth)} | <= ${pct(TARGETS.size_growth)} | ${yes(r.met.size_growth)} |`,
    '',
    `${r.mode} run, ${r.time}, commit ${r.commit.slice(0, 7)}${r.uncommitted.length ? ` (+ uncommitted: ${r.uncommitted.join(', ')})` : ''}; ` +
      `${r.machine.cpus} × ${r.machine.cpu_model}, Node ${r.machine.node}, PostgreSQL ${r.database.settings.server_version ?? '?'} ` +
      `(fsync ${r.database.settings.fsync}, shared_buffers ${r.database.settings.shared_buffers}); ` +
      `load average ${r.machine.load_start} at start, ${r.machine.load_end} at end.`,
  ];
  return rows.join('\n');
}
