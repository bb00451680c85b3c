// The HTTP benchmark: for each variant (bench/variants.ts), the largest open-loop rate the server holds with p99 <=
// 50 ms, no error, no non-2xx answer and the rate achieved, searched step by step (a geometric climb, then
// bisection; then checked around the answer in further rounds, the median counting). At rate R there are
// N = R * 30 simulated agents (the tenants' default heartbeat interval), in tenants
// of every size (bench/tenants.ts) with their supervisors' live streams open (bench/streams.ts), each agent with its
// own sign-in and tab (bench/load.ts). The heartbeat's largest rate held, in agents, is the capacity of this machine.
//
// Nothing is pinned: the serving processes, PostgreSQL, the load generator and the streams share both cores, as
// they would on one machine; each step records the CPU each of them used per request, the machine's other work, and
// the statements the server sent (pg_stat_statements, by its login role).
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { ensureAppLogin, SERVER_LOGIN } from '../db/app-login.ts';
import { Child } from './child.ts';
import { withClient } from './cluster.ts';
import { CpuMeter } from './cpu.ts';
import type { LoadResult, Mix } from './load.ts';
import { probeMachine, type Probe } from './probe.ts';
import { openRedis, clearRedisKeys } from './redis.ts';
import { agentToken, refreshAgents, seedAgents, tabId } from './seed.ts';
import type { TenantLayout } from './tenants.ts';
import { median, round, sleep } from './stats.ts';
import { REDIS_KEY_PREFIX, type Variant } from './variants.ts';

/** The tenants' heartbeat interval (the default): each agent beats once per this many seconds. */
export const INTERVAL_S = 30;
export const P99_TARGET_MS = 50;
/** A step measures at least this many answers (p99 from the 8 slowest): a slow variant's steps run longer. */
const MIN_REQUESTS = 800;
/** A step holds only if the load generator got at least this share of the rate asked through. */
const ACHIEVED_SHARE = 0.95;

export const MIX: Mix = { status: 0.01, leave: 0.005, comebackMs: 3_000, jitterS: 2 };
/** Seconds of the steady measure (nothing changing). */
const STEADY_S = 10;

export interface SearchOptions {
  /** First rate tried per variant, req/s. */
  start: Record<Variant, number>;
  factor: number;
  bisections: number;
  /** A step that fails is run again this many times; it holds if any run holds (other work on the machine). */
  retries: number;
  warmupS: number;
  durationS: number;
  maxRate: number;
}

export interface HttpOptions {
  ownerUrl: string;
  variants: Variant[];
  processes: number;
  /** Keep-alive connections of the load (at most one per request per second): see bench/load.ts. */
  connections: number;
  /** The supervisors' live streams (default); false to measure without them. */
  streams: boolean;
  /** Which agents are in which tenant, and the tenants' supervisors. */
  layout: TenantLayout;
  rounds: number;
  search: SearchOptions;
  /** Most agents seeded with sign-ins; above rate * INTERVAL_S agents beat more often than once an interval. */
  maxAgents: number;
  /** Where the serving processes write CPU profiles (node --cpu-prof), if anywhere. */
  profileDir?: string;
  /** pids of the PostgreSQL server (postmaster and backends), when this run owns it. */
  postgresPids: (() => number[]) | null;
  log: (m: string) => void;
}

export interface Step {
  variant: Variant;
  rate: number;
  agents: number;
  held: boolean;
  load: LoadResult;
  /** CPU per request answered, µs: the serving processes, PostgreSQL, the load generator, the streams, the rest. */
  cpu_us_per_request: Record<string, number>;
  /** The kernel's part of those (system time: loopback TCP, epoll, WAL writes). */
  cpu_system_us_per_request: Record<string, number>;
  /** Share of the machine's CPU (both cores) busy during the step. */
  machine_busy: number;
  /** Statements the server's login sent per request, and beats per presence_accounts.heartbeats call. */
  round_trips_per_request: number | null;
  beats_per_heartbeats_call: number | null;
  lookups_per_session_users_call: number | null;
  /** What the supervisors' streams received during the step. */
  streams: { open: number; status_events: number; snapshots: number } | null;
  /** How fast the machine was just before the step (bench/probe.ts). */
  probe: Probe;
  /**
   * PostgreSQL's background work during the measured window: WAL bytes and full-page images per request (the first
   * change of a page after a checkpoint writes the whole page), checkpoints, and autovacuum or autoanalyze runs
   * finished in the database measured. Server-wide under DATABASE_URL.
   */
  background: {
    wal_bytes_per_request: number;
    wal_fpi_per_request: number;
    checkpoints: number;
    autovacuums: number;
    /** Autovacuum workers running when the window opened and when it closed, the larger. */
    autovacuum_workers: number;
  };
}

/**
 * What the heartbeat costs the database when nothing changes, measured after its search: 100 beats one at a time
 * (the statements the server sent per beat, the stream hub's reads left out), and 10 s of beats at 30 % of the rate
 * held with no status change and no tab leaving, while every supervisor's stream is open (the stream hub's
 * statements a second: snapshots, event reads, sign-in checks, timeout checks).
 */
export interface Steady {
  db_calls_per_beat: number;
  streams_queries_per_s: number;
  rate: number;
  agents: number;
  streams_open: number;
}

export interface VariantResult {
  /** Median over rounds of the largest rate held, req/s. */
  rate_held: number;
  rates_held: number[];
  /** The step that held at that rate (the median round's). */
  at_capacity: Step | null;
  steps: Step[];
  /** The heartbeat only: its cost when nothing changes (after its rounds, at the rate held). */
  steady: Steady | null;
  /** Median of the steps' probes: how fast the machine was while this variant was measured. */
  probe: Probe;
}

export interface HttpResult {
  processes: number;
  connections: number;
  streams: boolean;
  interval_s: number;
  p99_target_ms: number;
  mix: Mix;
  search: SearchOptions;
  max_agents: number;
  /** The tenants' shape ('realistic' or agents a tenant), and the tenants and supervisors of the most agents seeded. */
  tenants: { shape: TenantLayout['shape'] } & ReturnType<TenantLayout['describe']>;
  redis: { url: string; own: boolean };
  variants: Partial<Record<Variant, VariantResult>>;
}

export async function measureHttp(options: HttpOptions): Promise<HttpResult> {
  const { ownerUrl, log } = options;
  const secret = randomBytes(9).toString('base64url');
  const appUrl = await ensureAppLogin(ownerUrl);
  const redis = await openRedis(process.env.REDIS_URL);
  const owner = new pg.Client({ connectionString: ownerUrl });
  await owner.connect();
  let seeded = 0;
  const ensureSeeded = async (agents: number) => {
    if (seeded >= agents) return;
    const to = Math.min(options.maxAgents, Math.ceil(agents / 50_000) * 50_000);
    await seedAgents(owner, options.layout, seeded + 1, to, { at: new Date(), signIns: { secret } });
    await owner.query('vacuum analyze');
    log(`  seeded agents ${seeded + 1}-${to} with their sign-ins`);
    seeded = to;
  };

  const result: HttpResult = {
    processes: options.processes,
    connections: options.connections,
    streams: options.streams,
    interval_s: INTERVAL_S,
    p99_target_ms: P99_TARGET_MS,
    mix: MIX,
    search: options.search,
    max_agents: options.maxAgents,
    tenants: { shape: options.layout.shape, ...options.layout.describe(options.maxAgents) },
    redis: { url: redis.url, own: redis.own },
    variants: {},
  };
  try {
    for (const variant of options.variants) {
      result.variants[variant] = await searchVariant(variant, { ...options, appUrl, secret, redisUrl: redis.url, owner, ensureSeeded });
    }
    return result;
  } finally {
    await owner.end();
    if (!redis.own) await clearRedisKeys(redis.url, REDIS_KEY_PREFIX);
    await redis.stop();
  }
}

interface SearchContext extends HttpOptions {
  appUrl: string;
  secret: string;
  redisUrl: string;
  owner: pg.Client;
  ensureSeeded: (agents: number) => Promise<void>;
}

async function searchVariant(variant: Variant, ctx: SearchContext): Promise<VariantResult> {
  const { search, log } = ctx;
  const { child: server, ready } = await Child.start<{ port: number; pids: number[] }>(`server ${variant}`, 'server.ts', [
    variant,
    String(ctx.processes),
    ctx.appUrl,
    ctx.ownerUrl,
    ctx.redisUrl,
  ], ctx.profileDir ? ['--cpu-prof', `--cpu-prof-dir=${ctx.profileDir}`] : []);
  const url = `http://127.0.0.1:${ready.port}`;
  const withStreams = variant !== 'bare' && ctx.streams;
  const streams = withStreams ? (await Child.start('streams', 'streams.ts', [url, ctx.secret])).child : null;
  const load = (await Child.start('load', 'load.ts', [url, ctx.secret, String(ctx.maxAgents)])).child;
  const meter = new CpuMeter({
    node: () => ready.pids,
    postgres: ctx.postgresPids ?? (() => []),
    load: () => [load.pid],
    streams: () => (streams ? [streams.pid] : []),
  });

  const steps: Step[] = [];
  const runLoad = (rate: number, agents: number, durationS: number, mix: Mix) =>
    load.request<{ result: LoadResult }>({ type: 'run', rate, agents, connections: ctx.connections, warmupS: search.warmupS, durationS, mix });
  const runStep = async (rate: number): Promise<Step> => {
    let step = await runOnce(rate);
    for (let i = 0; i < search.retries && !step.held; i++) step = await runOnce(rate);
    return step;
  };
  const runOnce = async (rate: number): Promise<Step> => {
    const agents = Math.min(Math.round(rate * INTERVAL_S), ctx.maxAgents);
    if (variant !== 'bare') {
      await ctx.ensureSeeded(agents);
      // Agents the previous steps did not reach have been silent longer than offline_after_s: live again.
      await refreshAgents(ctx.owner, 1, agents, new Date());
    }
    if (streams) await streams.request({ type: 'open', supervisors: ctx.layout.supervisorsUpTo(agents) });
    const probe = probeMachine();
    // A p99 from fewer than MIN_REQUESTS answers is a handful of requests: a slow variant's step runs longer.
    const running = runLoad(rate, agents, Math.max(search.durationS, Math.ceil(MIN_REQUESTS / rate)), MIX);
    // The counters cover the measured window.
    await sleep(search.warmupS * 1000);
    await statements(ctx.ownerUrl, 'reset');
    const streamsBefore = await streams?.request<StreamCounts>({ type: 'count' });
    const backgroundBefore = await background(ctx.ownerUrl);
    const before = meter.sample();
    const { result: loadResult } = await running;
    const after = meter.sample();
    const backgroundAfter = await background(ctx.ownerUrl);
    const streamsAfter = await streams?.request<StreamCounts>({ type: 'count' });
    const stmts = await statements(ctx.ownerUrl, 'read');

    const cpu = CpuMeter.between(before, after);
    const requests = Math.max(1, loadResult.requests);
    const perRequest = (us: number) => round(us / requests);
    const ours = Object.values(cpu.groups).reduce((a, b) => a + b, 0);
    const held =
      loadResult.errors === 0 &&
      loadResult.timeouts === 0 &&
      loadResult.non2xx === 0 &&
      loadResult.achieved_rate >= ACHIEVED_SHARE * rate &&
      loadResult.p99_ms <= P99_TARGET_MS;
    const step: Step = {
      variant,
      rate,
      agents,
      held,
      load: loadResult,
      cpu_us_per_request: {
        ...Object.fromEntries(Object.entries(cpu.groups).map(([k, v]) => [k, perRequest(v)])),
        other: perRequest(Math.max(0, cpu.machine_busy_us - ours)),
      },
      cpu_system_us_per_request: Object.fromEntries(Object.entries(cpu.system).map(([k, v]) => [k, perRequest(v)])),
      machine_busy: round(cpu.machine_busy_us / Math.max(1, cpu.machine_total_us), 3),
      round_trips_per_request: stmts ? round(stmts.calls / requests, 3) : null,
      beats_per_heartbeats_call: stmts?.heartbeats_calls ? round(stmts.heartbeats_rows / stmts.heartbeats_calls, 2) : null,
      lookups_per_session_users_call: stmts?.session_users_calls ? round(stmts.session_users_rows / stmts.session_users_calls, 2) : null,
      streams:
        streamsBefore && streamsAfter
          ? {
              open: streamsAfter.open,
              status_events: streamsAfter.status - streamsBefore.status,
              snapshots: streamsAfter.snapshots - streamsBefore.snapshots,
            }
          : null,
      probe,
      background: {
        wal_bytes_per_request: perRequest(backgroundAfter.wal_bytes - backgroundBefore.wal_bytes),
        wal_fpi_per_request: round((backgroundAfter.wal_fpi - backgroundBefore.wal_fpi) / requests, 3),
        checkpoints: backgroundAfter.checkpoints - backgroundBefore.checkpoints,
        autovacuums: backgroundAfter.autovacuums - backgroundBefore.autovacuums,
        autovacuum_workers: Math.max(backgroundBefore.autovacuum_workers, backgroundAfter.autovacuum_workers),
      },
    };
    steps.push(step);
    log(
      `  ${variant} ${rate} req/s (${agents} agents): ${held ? 'held' : 'NOT held'}; ${loadResult.achieved_rate} req/s, ` +
        `p50 ${loadResult.p50_ms} p99 ${loadResult.p99_ms} max ${loadResult.max_ms} ms, ${loadResult.errors + loadResult.timeouts} errors, ` +
        `${loadResult.non2xx} non-2xx${Object.keys(loadResult.failed).length ? ` ${JSON.stringify(loadResult.failed)}` : ''}; ` +
        `CPU µs/request ${JSON.stringify(step.cpu_us_per_request)} (kernel ${JSON.stringify(step.cpu_system_us_per_request)}), machine ${Math.round(step.machine_busy * 100)} % busy; ` +
        `${step.round_trips_per_request ?? '-'} statements/request, ${step.beats_per_heartbeats_call ?? '-'} beats/call` +
        (step.streams ? `; streams ${step.streams.open} open, ${step.streams.status_events} status events` : '') +
        `; machine before it: SHA-256 of 16 MiB ${probe.cpu_ms} ms, 8 KiB fsync ${probe.fsync_ms} ms` +
        `; WAL ${step.background.wal_bytes_per_request} B and ${step.background.wal_fpi_per_request} full pages a request, ` +
        `${step.background.checkpoints} checkpoints, ${step.background.autovacuums} autovacuum runs ` +
        `(${step.background.autovacuum_workers} workers at most)`,
    );
    return step;
  };

  const measureSteady = async (heldRate: number): Promise<Steady> => {
    const beats = 100;
    await refreshAgents(ctx.owner, 1, beats, new Date());
    await statements(ctx.ownerUrl, 'reset');
    for (let n = 1; n <= beats; n++) {
      const res = await fetch(`${url}/api/auth/heartbeat`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', cookie: `presence_session=${agentToken(ctx.secret, n)}` },
        body: JSON.stringify({ sessionId: tabId(n, 0) }),
      });
      if (!res.ok) throw new Error(`steady beat of agent ${n} answered ${res.status}: ${await res.text()}`);
    }
    const single = await statements(ctx.ownerUrl, 'read');

    const rate = Math.max(1, Math.round(heldRate * 0.3));
    const agents = Math.min(Math.round(rate * INTERVAL_S), ctx.maxAgents);
    // Nothing changing means nobody times out either: every agent the search left online is seen now, so none of
    // those the steady load does not beat goes offline within the window (each would be a real change, sent).
    await refreshAgents(ctx.owner, 1, ctx.maxAgents, new Date());
    const running = runLoad(rate, agents, STEADY_S, { ...MIX, status: 0, leave: 0 });
    await sleep(search.warmupS * 1000);
    await statements(ctx.ownerUrl, 'reset');
    await running;
    const quiet = await statements(ctx.ownerUrl, 'read');
    const open = (await streams?.request<StreamCounts>({ type: 'count' }))?.open ?? 0;
    const steady: Steady = {
      db_calls_per_beat: single ? round((single.calls - single.stream_calls) / beats, 2) : NaN,
      streams_queries_per_s: quiet ? round(quiet.stream_calls / STEADY_S, 2) : NaN,
      rate,
      agents,
      streams_open: open,
    };
    log(`  steady: ${steady.db_calls_per_beat} database calls a beat; ${steady.streams_queries_per_s} stream queries/s at ${rate} req/s with ${open} streams open and nothing changing`);
    return steady;
  };

  /**
   * One search: climb by `factor` from `start` until a step fails (or come down until one holds), then bisect. A step
   * that failed because the server could not answer the rate asked (under 95 % of it got through) answered what it
   * could: the next step down starts below that, not one factor below the rate asked.
   */
  const searchFrom = async (start: number, factor: number, bisections: number, climbs = Infinity): Promise<Step | null> => {
    let best: Step | null = null;
    let failedAt: number | null = null;
    let rate = start;
    for (let climbed = 0; ; ) {
      const step = await runStep(rate);
      if (step.held) {
        best = step;
        if (failedAt !== null || rate >= search.maxRate || climbed++ >= climbs) break;
        rate = Math.min(search.maxRate, Math.round(rate * factor));
      } else {
        failedAt = rate;
        if (best) break;
        rate = Math.round(Math.min(rate, step.load.achieved_rate) / factor);
        if (rate < 20) break;
      }
    }
    for (let i = 0; i < bisections && best && failedAt !== null; i++) {
      const mid = Math.round(Math.sqrt(best.rate * failedAt));
      if (mid <= best.rate * 1.02 || mid >= failedAt * 0.98) break;
      const step = await runStep(mid);
      if (step.held) best = step;
      else failedAt = mid;
    }
    return best;
  };

  try {
    // Round 1 searches from the start rate. Each later round checks the median held so far, a step of the factor's
    // square root on either side, without bisecting: two steps (the median, then one above it if it held, or below
    // it until one holds). The rate held is the median of the rounds: one search lands a step apart from the next on
    // a shared machine whose speed drifts by tens of per cent from one minute to the next.
    const rates: number[] = [];
    const held: Step[] = [];
    for (let round = 0; round < ctx.rounds; round++) {
      const best =
        round === 0
          ? await searchFrom(search.start[variant], search.factor, search.bisections)
          : await searchFrom(Math.max(20, Math.round(median(rates))), Math.sqrt(search.factor), 0, 1);
      rates.push(best?.rate ?? 0);
      if (best) held.push(best);
      log(`http ${variant} round ${round + 1}: ${best?.rate ?? 0} req/s held`);
    }
    const rate = Math.round(median(rates));
    // Measured even when no step held (a machine busy with other work): it counts statements, not speed.
    const lowest = steps.reduce<number | null>((min, s) => (min === null || s.rate < min ? s.rate : min), null);
    const steadyAt = rate > 0 ? rate : lowest;
    const steady = variant === 'heartbeat' && steadyAt !== null ? await measureSteady(steadyAt) : null;
    return {
      rate_held: rate,
      rates_held: rates,
      // With an odd number of rounds the median is one round's rate: that round's step.
      at_capacity: held.findLast((s) => s.rate === rate) ?? held.at(-1) ?? null,
      steps,
      steady,
      probe: {
        cpu_ms: round(median(steps.map((s) => s.probe.cpu_ms)), 2),
        fsync_ms: round(median(steps.map((s) => s.probe.fsync_ms)), 2),
      },
    };
  } finally {
    await load.stop();
    await streams?.stop();
    await server.stop();
  }
}

interface StreamCounts {
  open: number;
  snapshots: number;
  status: number;
}

interface StatementCounts {
  calls: number;
  /** The stream hub's: snapshots, reads of the events after a ring, checks of ended sign-ins, timeout checks. */
  stream_calls: number;
  heartbeats_calls: number;
  heartbeats_rows: number;
  session_users_calls: number;
  session_users_rows: number;
}

/** Resets pg_stat_statements, or reads what the server's login sent since; null without the extension. */
async function statements(url: string, action: 'reset' | 'read'): Promise<StatementCounts | null> {
  return withClient(url, async (c) => {
    if (!(await c.query("select 1 from pg_extension where extname = 'pg_stat_statements'")).rowCount) return null;
    if (action === 'reset') {
      await c.query('select pg_stat_statements_reset()');
      return null;
    }
    const { rows } = await c.query<Record<keyof StatementCounts, string>>(
      `select coalesce(sum(s.calls), 0) as calls,
              coalesce(sum(s.calls) filter (where s.query ~ 'presence\\.(agent_presence|status_changes_after|sign_ins_ended|timeouts_due|tenant_summaries)'), 0) as stream_calls,
              coalesce(sum(s.calls) filter (where s.query ~ 'presence(_accounts)?\\.heartbeats\\('), 0) as heartbeats_calls,
              coalesce(sum(s.rows) filter (where s.query ~ 'presence(_accounts)?\\.heartbeats\\('), 0) as heartbeats_rows,
              coalesce(sum(s.calls) filter (where s.query like '%presence_accounts.session_users(%'), 0) as session_users_calls,
              coalesce(sum(s.rows) filter (where s.query like '%presence_accounts.session_users(%'), 0) as session_users_rows
         from pg_stat_statements s join pg_roles r on r.oid = s.userid
        where r.rolname = $1 and s.toplevel`,
      [SERVER_LOGIN],
    );
    const r = rows[0]!;
    return {
      calls: Number(r.calls),
      stream_calls: Number(r.stream_calls),
      heartbeats_calls: Number(r.heartbeats_calls),
      heartbeats_rows: Number(r.heartbeats_rows),
      session_users_calls: Number(r.session_users_calls),
      session_users_rows: Number(r.session_users_rows),
    };
  });
}

/** The server's background work, as counters to subtract: WAL written, full-page images, checkpoints, autovacuum runs. */
interface Background {
  wal_bytes: number;
  wal_fpi: number;
  checkpoints: number;
  autovacuums: number;
  /** Autovacuum workers running at that moment. */
  autovacuum_workers: number;
}

async function background(url: string): Promise<Background> {
  return withClient(url, async (c) => {
    const { rows } = await c.query<Record<keyof Background, string>>(
      `select (select wal_bytes from pg_stat_wal) as wal_bytes,
              (select wal_fpi from pg_stat_wal) as wal_fpi,
              (select checkpoints_timed + checkpoints_req from pg_stat_bgwriter) as checkpoints,
              (select coalesce(sum(autovacuum_count + autoanalyze_count), 0) from pg_stat_all_tables) as autovacuums,
              (select count(*) from pg_stat_activity where backend_type = 'autovacuum worker') as autovacuum_workers`,
    );
    const r = rows[0]!;
    return {
      wal_bytes: Number(r.wal_bytes),
      wal_fpi: Number(r.wal_fpi),
      checkpoints: Number(r.checkpoints),
      autovacuums: Number(r.autovacuums),
      autovacuum_workers: Number(r.autovacuum_workers),
    };
  });
}
