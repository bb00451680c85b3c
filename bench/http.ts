// End-to-end heartbeats through the real server stack, against three baselines served by the same stack and
// the same sign-in sessions: no-op, Redis and the original design. The server runs in a child process pinned
// to core 0, autocannon in another pinned to core 1 (PostgreSQL and Redis float); 50 connections, each a
// different signed-in agent of one tenant of 100 agents.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { availableParallelism } from 'node:os';
import argon2 from 'argon2';
import pg from 'pg';
import { newSessionToken, SESSION_COOKIE } from '../server/auth.ts';
import { projectRoot } from '../server/config.ts';
import type { LoadOptions, LoadResult } from './load.ts';
import { REDIS_KEY_PREFIX } from './baselines.ts';
import { withClient } from './cluster.ts';
import { clearRedisKeys, openRedis } from './redis.ts';
import type { ServerMessage, Variant } from './server.ts';
import { median } from './stats.ts';

export const VARIANTS: Variant[] = ['heartbeat', 'noop', 'redis', 'seed'];
const TENANT_AGENTS = 100;

export interface VariantResult {
  rps: number;
  p50_ms: number;
  p99_ms: number;
  /** Database statements per request, counted on the server's pools. */
  round_trips: number;
  /**
   * Beats per presence.heartbeat_for_session call (rows / calls in pg_stat_statements), where the database has
   * pg_stat_statements: the cross-check of round_trips from the database's side.
   */
  beats_per_call: number | null;
  runs: LoadResult[];
}

export interface HttpResult {
  connections: number;
  duration_s: number;
  warmup_s: number;
  rounds: number;
  pinned: boolean;
  redis: { url: string; own: boolean };
  variants: Record<Variant, VariantResult>;
  /**
   * heartbeat req/s over each baseline's, per round (the variants of a round run back to back), and the median
   * of those: less at the mercy of other work on the machine than a ratio of medians taken minutes apart.
   */
  paired_ratios: Partial<Record<Exclude<Variant, 'heartbeat'>, { median: number; rounds: number[] }>>;
}

const canPin = (() => {
  if (availableParallelism() < 2) return false;
  try {
    execFileSync('taskset', ['-c', '0', 'true']);
    return true;
  } catch {
    return false;
  }
})();

function nodeChild(core: number, args: string[], ipc: boolean): ChildProcess {
  const node = [process.execPath, '--import', 'tsx', ...args];
  const [cmd, ...rest] = canPin ? ['taskset', '-c', String(core), ...node] : node;
  return spawn(cmd!, rest, { cwd: projectRoot, stdio: ['ignore', ipc ? 'ignore' : 'pipe', 'inherit', ...(ipc ? ['ipc' as const] : [])] });
}

/** 50 signed-in agents: real accounts (argon2id) and real sign-in sessions, cookies as a browser sends them. */
async function signedInAgents(url: string, count: number): Promise<string[]> {
  const owner = new pg.Client({ connectionString: url });
  await owner.connect();
  try {
    const hash = await argon2.hash('bench password, never used to sign in', { type: argon2.argon2id });
    const tenant = (await owner.query<{ id: string }>('select presence.create_tenant($1) as id', [`bench http ${Date.now()}`])).rows[0]!.id;
    const cookies: string[] = [];
    for (let i = 0; i < TENANT_AGENTS; i++) {
      const { rows } = await owner.query<{ user_id: string }>('select * from presence.create_account($1, $2, $3, $4, $5, $6)', [
        tenant,
        `bench-${tenant.slice(0, 8)}-${i}@bench.example`,
        `Bench Agent ${i}`,
        'support_staff',
        hash,
        5,
      ]);
      if (i >= count) continue;
      const { token, hash: tokenHash } = newSessionToken();
      await owner.query('select * from presence.start_session($1, $2, $3)', [rows[0]!.user_id, tokenHash, 24 * 3600]);
      cookies.push(`${SESSION_COOKIE}=${token}`);
    }
    return cookies;
  } finally {
    await owner.end();
  }
}

class BenchServer {
  private constructor(
    private readonly child: ChildProcess,
    readonly url: string,
  ) {}

  static async start(variant: Variant, databaseUrl: string, redisUrl: string): Promise<BenchServer> {
    const child = nodeChild(0, ['bench/server.ts', variant, databaseUrl, redisUrl], true);
    const port = await new Promise<number>((resolve, reject) => {
      child.once('message', (m: ServerMessage) => resolve(m.port!));
      child.once('exit', (code) => reject(new Error(`bench server (${variant}) exited with ${code}`)));
    });
    return new BenchServer(child, `http://127.0.0.1:${port}`);
  }

  count(): Promise<{ requests: number; queries: number }> {
    return new Promise((resolve) => {
      this.child.once('message', (m: ServerMessage) => resolve({ requests: m.requests!, queries: m.queries! }));
      this.child.send('count');
    });
  }

  async stop(): Promise<void> {
    const exited = new Promise((resolve) => this.child.once('exit', resolve));
    this.child.send('stop');
    await exited;
  }
}

/** Resets pg_stat_statements, or reads the calls and rows of heartbeat_for_session; null without the extension. */
async function statementStats(url: string, action: 'reset' | 'read'): Promise<{ calls: number; rows: number } | null> {
  return withClient(url, async (c) => {
    if (!(await c.query("select 1 from pg_extension where extname = 'pg_stat_statements'")).rowCount) return null;
    if (action === 'reset') {
      await c.query('select pg_stat_statements_reset()');
      return null;
    }
    const { rows } = await c.query<{ calls: string | null; rows: string | null }>(
      `select sum(calls) as calls, sum(rows) as rows from pg_stat_statements
        where query like '%presence.heartbeat_for_session(%' and toplevel`,
    );
    const calls = Number(rows[0]?.calls ?? 0);
    return calls ? { calls, rows: Number(rows[0]!.rows) } : null;
  });
}

async function load(options: LoadOptions): Promise<LoadResult> {
  const child = nodeChild(1, ['bench/load.ts', JSON.stringify(options)], false);
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  if (code !== 0) throw new Error(`load generator exited with ${code}`);
  return JSON.parse(out.trim().split('\n').at(-1)!) as LoadResult;
}

export async function measureHttp(
  databaseUrl: string,
  options: {
    connections: number;
    durationS: number;
    warmupS: number;
    rounds: number;
    variants?: Variant[];
    log: (m: string) => void;
  },
): Promise<HttpResult> {
  const { connections, durationS, warmupS, rounds, log, variants: only = VARIANTS } = options;
  const redis = await openRedis(process.env.REDIS_URL);
  try {
    const cookies = await signedInAgents(databaseUrl, connections);
    const batchSizes = Object.fromEntries(only.map((v) => [v, [] as number[]])) as Record<Variant, number[]>;
    const runs = Object.fromEntries(only.map((v) => [v, []])) as unknown as Record<Variant, Array<LoadResult & { round_trips: number }>>;
    for (let round = 0; round < rounds; round++) {
      for (const variant of only) {
        const server = await BenchServer.start(variant, databaseUrl, redis.url);
        try {
          await load({ url: server.url, cookies, connections, durationS: warmupS });
          await statementStats(databaseUrl, 'reset');
          const before = await server.count();
          const result = await load({ url: server.url, cookies, connections, durationS });
          const after = await server.count();
          const calls = await statementStats(databaseUrl, 'read');
          if (calls) batchSizes[variant].push(calls.rows / calls.calls);
          const roundTrips = (after.queries - before.queries) / Math.max(1, after.requests - before.requests);
          if (result.non2xx || result.errors) throw new Error(`${variant}: ${result.non2xx} non-2xx answers, ${result.errors} errors`);
          runs[variant].push({ ...result, round_trips: roundTrips });
          if (variant === 'heartbeat' && calls) log(`  pg_stat_statements: ${calls.calls} heartbeat_for_session calls, ${(calls.rows / calls.calls).toFixed(1)} beats per call`);
          log(`http ${variant} round ${round + 1}: ${result.rps} req/s, p50 ${result.p50_ms} ms, p99 ${result.p99_ms} ms, ${roundTrips.toFixed(3)} round trips/request`);
        } finally {
          await server.stop();
        }
      }
    }
    const variants = {} as Record<Variant, VariantResult>;
    for (const v of only) {
      variants[v] = {
        rps: Math.round(median(runs[v].map((r) => r.rps))),
        p50_ms: median(runs[v].map((r) => r.p50_ms)),
        p99_ms: median(runs[v].map((r) => r.p99_ms)),
        round_trips: Math.round(median(runs[v].map((r) => r.round_trips)) * 1000) / 1000,
        beats_per_call: batchSizes[v].length ? Math.round(median(batchSizes[v]) * 10) / 10 : null,
        runs: runs[v],
      };
    }
    const paired_ratios: HttpResult['paired_ratios'] = {};
    if (runs.heartbeat) {
      for (const v of only.filter((x): x is Exclude<Variant, 'heartbeat'> => x !== 'heartbeat')) {
        const ratios = runs[v].map((r, i) => Math.round((runs.heartbeat[i]!.rps / r.rps) * 100) / 100);
        paired_ratios[v] = { median: median(ratios), rounds: ratios };
      }
    }
    return {
      connections,
      duration_s: durationS,
      warmup_s: warmupS,
      rounds,
      pinned: canPin,
      redis: { url: redis.url, own: redis.own },
      variants,
      paired_ratios,
    };
  } finally {
    if (!redis.own) await clearRedisKeys(redis.url, REDIS_KEY_PREFIX);
    await redis.stop();
  }
}
