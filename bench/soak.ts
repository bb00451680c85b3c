// npm run soak: the real server (npm start's pieces: the app login, the presence router behind this project's
// sign-in, the graphile-worker, in a child process of its own) on a PostgreSQL cluster of the run's own (durable,
// pg_cron sweeping every minute), under a steady open-loop load: every agent beats once per heartbeat interval
// (autocannon at a fixed overall rate, one cookie and tab per agent), supervisors keep live streams open, agents sign
// out and in again, and a few sign-ins fail. Not part of CI.
//
//   npm run soak                              the soak: 10 minutes, sampled every 10 s
//   npm run soak -- --duration 120            a shorter one
//   npm run soak -- --scenario restart        PostgreSQL restarted under load (pg_ctl restart -m fast)
//   npm run soak -- --scenario crash          PostgreSQL killed under load and recovered (pg_ctl restart -m immediate)
//   npm run soak -- --scenario kill           kill -9 of the server under load, with chats; the database checked after
//   npm run soak -- --scenario frozen         every PostgreSQL process stopped (SIGSTOP) for 20 s, then continued
//   npm run soak -- --scenario timing         sign-in time of a wrong password against an unknown e-mail (bcrypt 10)
//   npm run soak -- --scenario faults         the five above, one after the other (about 6 minutes)
//   npm run soak -- --scenario flood          40 loops of anonymous wrong passwords from rotating 127/8 addresses
//                                             (bcrypt 10) for --duration s (60) after 30 s quiet: beat times quiet
//                                             against flood, sign-ins answered, faults-flood.json
//   options: --agents 3000 --tenants 10 --supervisors 5 (per tenant) --interval 30 (s) --churn 1 (sign-outs/s)
//
// The soak samples the server's RSS, heap and event-loop delay (its /metrics), the database's connections
// (pg_stat_activity) and the size of the tables that could grow, and writes bench/results/soak.json and soak.md
// with first, last and max of each, the slope and whether it is flat. The scenarios write faults.json (one
// scenario: faults-<scenario>.json).
import { fork, execFile, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync, createWriteStream } from 'node:fs';
import http, { createServer } from 'node:http';
import { loadavg, tmpdir, cpus } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { AddressInfo } from 'node:net';
import autocannon from 'autocannon';
import { createParser } from 'eventsource-parser';
import pg from 'pg';
import { pino } from 'pino';
import { ensureAppLogin } from '../db/app-login.ts';
import { startCluster, type Cluster } from '../db/cluster.ts';
import { migrate } from '../db/migrate.ts';
import { makeApp } from '../server/app.ts';
import { loadConfig, projectRoot } from '../server/config.ts';
import { startPresenceWorker } from '../server/presence/worker.ts';
import { createServices } from '../server/services.ts';

const run = promisify(execFile);
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
const round = (value: number, digits = 1) => Math.round(value * 10 ** digits) / 10 ** digits;
const PASSWORD = 'soak-password';
const RESULTS = join(projectRoot, 'bench', 'results');

// ---- options --------------------------------------------------------------------------------------------------------

const SCENARIOS = ['soak', 'restart', 'crash', 'kill', 'frozen', 'timing', 'faults', 'flood'] as const;
type Scenario = (typeof SCENARIOS)[number];

interface Options {
  scenario: Scenario;
  durationS: number;
  agents: number;
  tenants: number;
  supervisors: number;
  intervalS: number;
  churnPerS: number;
  sampleS: number;
}

function options(argv: string[]): Options {
  const value = (name: string, fallback: number) => {
    const i = argv.indexOf(`--${name}`);
    if (i < 0) return fallback;
    const n = Number(argv[i + 1]);
    if (!Number.isFinite(n) || n <= 0) throw new Error(`--${name} takes a positive number, got ${argv[i + 1]}`);
    return n;
  };
  const i = argv.indexOf('--scenario');
  const scenario = (i < 0 ? 'soak' : argv[i + 1]) as Scenario;
  if (!SCENARIOS.includes(scenario)) throw new Error(`--scenario is one of ${SCENARIOS.join(', ')}, got ${scenario}`);
  return {
    scenario,
    durationS: value('duration', scenario === 'flood' ? 60 : 600),
    agents: value('agents', 3000),
    tenants: value('tenants', 10),
    supervisors: value('supervisors', 5),
    intervalS: value('interval', 30),
    churnPerS: value('churn', 1),
    sampleS: value('sample', 10),
  };
}

// ---- the server, in a child process ---------------------------------------------------------------------------------

/** The child: npm start's serving pieces on the run's cluster (no migrations, seed or client build: the parent did). */
async function serve(): Promise<void> {
  const ownerUrl = process.env.SOAK_OWNER_URL!;
  const config = loadConfig({
    ...process.env,
    DATABASE_URL: ownerUrl,
    NODE_ENV: 'production',
    HOST: '127.0.0.1',
    COOKIE_SECURE: 'false',
    // The driver's failed sign-ins name their own address (X-Forwarded-For), as a proxy would.
    TRUST_PROXY: 'loopback',
    LOG_LEVEL: 'warn',
  });
  // Written synchronously (pino's default stream writes asynchronously), so a line is in the log when it happens.
  const logger = pino({ level: config.logLevel }, pino.destination({ dest: 1, sync: true }));
  const appUrl = await ensureAppLogin(ownerUrl);
  const services = createServices(config, appUrl, logger);
  const worker = await startPresenceWorker({ connectionString: ownerUrl, logger });
  const server = createServer(makeApp(services));
  server.listen(config.port, '127.0.0.1');
  await once(server, 'listening');
  process.send!({ port: (server.address() as AddressInfo).port });
  process.on('SIGTERM', () => {
    services.presence.streams.close();
    server.closeIdleConnections();
    server.close();
    void worker
      .stop()
      .then(() => services.close())
      .finally(() => process.exit(0));
  });
}

class ServerProcess {
  child: ChildProcess | null = null;
  port = 0;

  constructor(
    private readonly ownerUrl: string,
    private readonly logFile: string,
  ) {}

  /** Starts the server (on `port` when given, to come back where clients look for it); resolves once it listens. */
  async start(port = 0): Promise<void> {
    const child = fork(fileURLToPath(import.meta.url), ['--serve'], {
      execArgv: ['--import', 'tsx'],
      env: { ...process.env, SOAK_OWNER_URL: this.ownerUrl, PORT: String(port) },
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    });
    const log = createWriteStream(this.logFile, { flags: 'a' });
    child.stdout!.pipe(log);
    child.stderr!.pipe(log);
    const [message] = (await Promise.race([
      once(child, 'message'),
      once(child, 'exit').then(([code]) => {
        throw new Error(`the server exited with ${code} before listening: see ${this.logFile}`);
      }),
    ])) as [{ port: number }];
    this.child = child;
    this.port = message.port;
  }

  get pid(): number {
    return this.child!.pid!;
  }

  kill9(): void {
    this.child?.kill('SIGKILL');
    this.child = null;
  }

  async stop(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null) return;
    const exited = once(child, 'exit');
    child.kill('SIGTERM');
    await Promise.race([exited, sleep(10_000).then(() => child.kill('SIGKILL'))]);
  }

  /** Log lines at warn or above since `from` (line index), and the total count of lines. */
  warnings(from = 0): { lines: string[]; total: number } {
    const all = readFileSync(this.logFile, 'utf8').split('\n').filter(Boolean);
    const lines = all.slice(from).filter((line) => {
      try {
        return (JSON.parse(line) as { level: number }).level >= 40;
      } catch {
        return true; // not pino's: a crash, a stack
      }
    });
    return { lines, total: all.length };
  }
}

// ---- the database -------------------------------------------------------------------------------------------------

interface Database {
  cluster: Cluster;
  owner: pg.Pool;
  logFile: string;
  pgCtl(args: string[]): Promise<void>;
  /** The postmaster and every backend. */
  pids(): number[];
  stop(): Promise<void>;
}

async function openDatabase(dir: string): Promise<Database> {
  const dataDir = join(dir, 'pg');
  const cluster = await startCluster({ dataDir, ephemeral: false });
  await migrate(cluster.url);
  const owner = new pg.Pool({ connectionString: cluster.url, max: 6, application_name: 'soak-driver' });
  owner.on('error', () => {}); // the scenarios restart the database under it
  const logFile = join(dirname(dataDir), `${basename(dataDir)}.log`);
  const asServerUser = (binary: string, args: string[]) =>
    process.getuid?.() === 0 ? run('runuser', ['-u', 'postgres', '--', binary, ...args]) : run(binary, args);
  return {
    cluster,
    owner,
    logFile,
    async pgCtl(args) {
      await asServerUser(join(cluster.install.binDir, 'pg_ctl'), ['-D', dataDir, '-l', logFile, '-w', '-t', '60', ...args]);
    },
    pids() {
      const postmaster = Number(readFileSync(join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
      const children = readdirSync('/proc')
        .filter((name) => /^\d+$/.test(name))
        .filter((pid) => {
          try {
            return Number(readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')[1]) === postmaster;
          } catch {
            return false;
          }
        })
        .map(Number);
      return [postmaster, ...children];
    },
    async stop() {
      await owner.end().catch(() => {});
      await cluster.stop({ remove: true });
    },
  };
}

interface Person {
  email: string;
  tenant: string;
  agentId: string | null;
  cookie: string;
  tab: string;
  /** Signing out and in: its beats wait. */
  busy: boolean;
}

/** Tenants, agents and supervisors, made through presence_accounts as an operator would (bcrypt cost 4 meanwhile). */
async function seed(db: Database, o: Options, releaseChatsAfterS = 60): Promise<{ agents: Person[]; supervisors: Person[]; tenants: string[] }> {
  await db.owner.query('select presence_accounts.configure_sign_in(p_bcrypt_cost => 4, p_window_s => 60)');
  const tenants: string[] = [];
  const agents: Person[] = [];
  const supervisors: Person[] = [];
  const perTenant = Math.ceil(o.agents / o.tenants);
  for (let t = 0; t < o.tenants; t++) {
    const { rows } = await db.owner.query<{ id: string }>('select presence_accounts.create_tenant($1) as id', [`Soak ${t + 1}`]);
    const tenant = rows[0]!.id;
    tenants.push(tenant);
    await db.owner.query('select presence.configure_tenant($1, $2, $3, $4, $5)', [tenant, o.intervalS, o.intervalS * 3, 300, releaseChatsAfterS]);
    const made = await db.owner.query<{ email: string; agent_id: string }>(
      `select e.email, (presence_accounts.create_account($1, e.email, 'Agent ' || i, 'support_staff', $2, 5)).agent_id::text
         from generate_series($3::int, $4::int) i, lateral (select 'agent-' || i || '@soak.example' as email) e`,
      [tenant, PASSWORD, t * perTenant + 1, Math.min((t + 1) * perTenant, o.agents)],
    );
    for (const r of made.rows) agents.push({ email: r.email, tenant, agentId: r.agent_id, cookie: '', tab: randomUUID(), busy: false });
    for (let s = 1; s <= o.supervisors; s++) {
      const email = `supervisor-${t + 1}-${s}@soak.example`;
      await db.owner.query(`select presence_accounts.create_account($1, $2, 'Supervisor', 'supervisor', $3)`, [tenant, email, PASSWORD]);
      supervisors.push({ email, tenant, agentId: null, cookie: '', tab: '', busy: false });
    }
  }
  return { agents, supervisors, tenants };
}

// ---- HTTP clients ----------------------------------------------------------------------------------------------------

async function signIn(base: string, email: string, password = PASSWORD, address?: string): Promise<{ status: number; cookie: string | null; ms: number }> {
  const started = performance.now();
  const res = await fetch(`${base}/api/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(address ? { 'x-forwarded-for': address } : {}) },
    body: JSON.stringify({ email, password }),
  });
  await res.arrayBuffer();
  const ms = performance.now() - started;
  const cookie = res.headers.getSetCookie().find((c) => c.startsWith('presence_session='))?.split(';')[0] ?? null;
  return { status: res.status, cookie, ms };
}

async function signOut(base: string, cookie: string): Promise<number> {
  const res = await fetch(`${base}/api/auth/logout`, { method: 'POST', headers: { cookie } });
  await res.arrayBuffer();
  return res.status;
}

async function inParallel<T>(items: T[], width: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < items.length) await work(items[next++]!);
    }),
  );
}

/** A dashboard's live stream, reconnecting 2 s after it ends as EventSource does. */
class StreamClient {
  statusEvents = 0;
  snapshots = 0;
  reconnects = 0;
  lastStatusAt = 0;
  open = false;
  private req: http.ClientRequest | null = null;
  private stopped = false;

  constructor(
    private readonly base: () => string,
    private readonly cookie: string,
  ) {}

  start(): void {
    if (this.stopped) return;
    this.req = http.get(`${this.base()}/api/agents/stream`, { headers: { cookie: this.cookie, accept: 'text/event-stream' } }, (res) => {
      if (res.statusCode !== 200) {
        res.resume();
        res.on('end', () => this.retry());
        return;
      }
      this.open = true;
      const parser = createParser({
        onEvent: (message) => {
          if (message.event === 'status') {
            this.statusEvents += 1;
            this.lastStatusAt = Date.now();
          } else if (message.event === 'snapshot') this.snapshots += 1;
        },
      });
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => parser.feed(chunk));
      res.on('close', () => {
        this.open = false;
        this.retry();
      });
    });
    this.req.on('error', () => {
      this.open = false;
      this.retry();
    });
  }

  private retry(): void {
    if (this.stopped) return;
    this.reconnects += 1;
    setTimeout(() => this.start(), 2_000).unref();
  }

  stop(): void {
    this.stopped = true;
    this.req?.destroy();
  }
}

interface Beat {
  at: number;
  status: number;
  ms: number;
}

/**
 * The beats: every agent once per heartbeat interval, round robin, at a fixed overall rate (autocannon, 40
 * connections, so a slow answer does not slow the others). Records each answer, and each agent's last
 * acknowledged beat (its lastSeen by the database clock), to check later that the database kept it.
 */
class BeatLoad {
  readonly answers: Beat[] = [];
  errors: Array<{ at: number; message: string }> = [];
  readonly acked = new Map<string, number>();
  private next = 0;
  private instance: autocannon.Instance | null = null;

  constructor(
    private readonly base: () => string,
    private readonly agents: Person[],
    private readonly rate: number,
  ) {}

  start(durationS: number): Promise<autocannon.Result> {
    const agents = this.agents;
    let finish: (result: autocannon.Result) => void = () => {};
    let fail: (error: unknown) => void = () => {};
    const finished = new Promise<autocannon.Result>((resolve, reject) => {
      finish = resolve;
      fail = reject;
    });
    const instance = autocannon(
      {
      url: this.base(),
      connections: Math.min(40, Math.max(1, Math.floor(this.rate))),
      overallRate: Math.max(1, Math.round(this.rate)),
      duration: durationS,
      timeout: 10,
      requests: [
        {
          method: 'POST',
          path: '/api/auth/heartbeat',
          setupRequest: (req, context) => {
            let agent = agents[this.next++ % agents.length]!;
            for (let i = 0; agent.busy && i < 10; i++) agent = agents[this.next++ % agents.length]!;
            (context as { agent?: string | null }).agent = agent.agentId;
            return {
              ...req,
              headers: { 'content-type': 'application/json', cookie: agent.cookie },
              body: JSON.stringify({ sessionId: agent.tab }),
            };
          },
          onResponse: (status, body, context) => {
            if (status !== 200) return;
            const lastSeen = Date.parse((JSON.parse(body) as { lastSeen: string }).lastSeen);
            const agent = (context as { agent: string }).agent;
            if (!((this.acked.get(agent) ?? 0) >= lastSeen)) this.acked.set(agent, lastSeen);
          },
        },
      ],
      },
      (error, result) => (error ? fail(error) : finish(result)),
    );
    this.instance = instance;
    instance.on('response', (_client, status, _bytes, ms) => this.answers.push({ at: Date.now(), status, ms }));
    instance.on('reqError', (error: Error) => this.errors.push({ at: Date.now(), message: error.message }));
    return finished;
  }

  stop(): void {
    this.instance?.stop();
  }

  /** Answers and errors between two moments. */
  between(from: number, to: number): { answers: Beat[]; errors: number } {
    return {
      answers: this.answers.filter((a) => a.at >= from && a.at < to),
      errors: this.errors.filter((e) => e.at >= from && e.at < to).length,
    };
  }
}

/** Agents sign out and in again (`perS` a second); a wrong password every 5 s from an address of its own. */
class Churn {
  signOuts = 0;
  signIns = 0;
  failedSignIns = 0;
  errors = 0;
  private timer: NodeJS.Timeout | null = null;
  private wrong: NodeJS.Timeout | null = null;

  constructor(
    private readonly base: () => string,
    private readonly agents: Person[],
    private readonly perS: number,
  ) {}

  start(): void {
    this.timer = setInterval(() => void this.once(), 1_000 / this.perS);
    this.wrong = setInterval(() => {
      const address = `10.${Math.floor(Math.random() * 250)}.${Math.floor(Math.random() * 250)}.${Math.floor(Math.random() * 250)}`;
      const who = this.agents[Math.floor(Math.random() * this.agents.length)]!;
      signIn(this.base(), who.email, 'not-the-password', address).then(
        (r) => (this.failedSignIns += r.status === 401 ? 1 : 0),
        () => (this.errors += 1),
      );
    }, 5_000);
  }

  private async once(): Promise<void> {
    const agent = this.agents[Math.floor(Math.random() * this.agents.length)]!;
    if (agent.busy) return;
    agent.busy = true;
    try {
      if ((await signOut(this.base(), agent.cookie)) === 204) this.signOuts += 1;
      const { cookie } = await signIn(this.base(), agent.email);
      if (cookie) {
        agent.cookie = cookie;
        agent.tab = randomUUID();
        this.signIns += 1;
      }
    } catch {
      this.errors += 1;
    } finally {
      agent.busy = false;
    }
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    if (this.wrong) clearInterval(this.wrong);
  }
}

// ---- one run: database, server, people, streams ----------------------------------------------------------------------

interface Harness {
  o: Options;
  dir: string;
  db: Database;
  server: ServerProcess;
  base: () => string;
  agents: Person[];
  supervisors: Person[];
  tenants: string[];
  streams: StreamClient[];
  close(): Promise<void>;
}

async function harness(o: Options, releaseChatsAfterS?: number): Promise<Harness> {
  const dir = mkdtempSync(join(tmpdir(), 'presence-soak-'));
  log(`cluster and migrations in ${dir}`);
  const db = await openDatabase(dir);
  const people = await seed(db, o, releaseChatsAfterS);
  const server = new ServerProcess(db.cluster.url, join(dir, 'server.log'));
  await server.start();
  const base = () => `http://127.0.0.1:${server.port}`;
  log(`server pid ${server.pid} on ${base()}; signing in ${people.agents.length} agents and ${people.supervisors.length} supervisors`);
  await inParallel([...people.agents, ...people.supervisors], 16, async (p) => {
    const { cookie } = await signIn(base(), p.email);
    if (!cookie) throw new Error(`sign-in of ${p.email} failed`);
    p.cookie = cookie;
  });
  const streams = people.supervisors.map((s) => new StreamClient(base, s.cookie));
  for (const s of streams) s.start();
  return {
    o,
    dir,
    db,
    server,
    base,
    ...people,
    streams,
    async close() {
      for (const s of streams) s.stop();
      await server.stop();
      await db.stop();
      if (!process.env.SOAK_KEEP) rmSync(dir, { recursive: true, force: true });
    },
  };
}

function log(message: string): void {
  console.log(`[${new Date().toISOString().slice(11, 19)}] ${message}`);
}

// ---- the soak: samples ---------------------------------------------------------------------------------------------

const TABLES = [
  'public.human_agents',
  'presence_private.sessions',
  'presence_accounts.auth_sessions',
  'presence.status_events',
  'presence_accounts.sign_in_failures',
] as const;

interface Sample {
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

function metric(text: string, name: string): number {
  const match = new RegExp(`^${name}(?:\\{[^}]*\\})? ([0-9.e+-]+)$`, 'm').exec(text);
  return match ? Number(match[1]) : Number.NaN;
}

function quantile(values: number[], q: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

async function sample(h: Harness, load: BeatLoad, t0: number, from: number, to: number): Promise<Sample> {
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

interface Trend {
  first: number;
  last: number;
  min: number;
  max: number;
  /** Least-squares slope, per 10 minutes, over the samples after warm-up. */
  slope_per_10min: number;
  /** Residual standard deviation around that line. */
  noise: number;
  flat: boolean;
  /**
   * The same judgement over the second half of the run alone: a table that grows until its first autovacuum and
   * then holds is flat there; one that keeps growing is not.
   */
  flat_second_half: boolean;
}

/**
 * Flat: the fitted growth over the run (slope × duration) is within noise: at most twice the residual standard
 * deviation, or 5 % of the mean (whichever is larger; sizes move in 8 kB pages, memory in allocator chunks).
 */
function trend(points: Array<[number, number]>): Trend {
  const whole = fit(points);
  const half = fit(points.slice(Math.floor(points.length / 2)));
  return { ...whole, flat_second_half: half.flat };
}

function fit(points: Array<[number, number]>): Omit<Trend, 'flat_second_half'> {
  const n = points.length;
  const mx = points.reduce((s, [x]) => s + x, 0) / n;
  const my = points.reduce((s, [, y]) => s + y, 0) / n;
  const sxx = points.reduce((s, [x]) => s + (x - mx) ** 2, 0);
  const slope = sxx === 0 ? 0 : points.reduce((s, [x, y]) => s + (x - mx) * (y - my), 0) / sxx;
  const residuals = points.map(([x, y]) => y - (my + slope * (x - mx)));
  const noise = Math.sqrt(residuals.reduce((s, r) => s + r * r, 0) / Math.max(1, n - 2));
  const span = points.at(-1)![0] - points[0]![0];
  const ys = points.map(([, y]) => y);
  return {
    first: ys[0]!,
    last: ys.at(-1)!,
    min: Math.min(...ys),
    max: Math.max(...ys),
    slope_per_10min: round(slope * 600, 3),
    noise: round(noise, 3),
    flat: Math.abs(slope * span) <= Math.max(2 * noise, 0.05 * Math.abs(my)),
  };
}

async function soak(o: Options): Promise<void> {
  const h = await harness(o);
  const rate = o.agents / o.intervalS;
  const load = new BeatLoad(h.base, h.agents, rate);
  const churn = new Churn(h.base, h.agents, o.churnPerS);
  const samples: Sample[] = [];
  const t0 = Date.now();
  log(`soak for ${o.durationS} s: ${o.agents} agents beating every ${o.intervalS} s (${round(rate)} beats/s), ${h.streams.length} streams, ${o.churnPerS} sign-out and sign-in a second`);
  const done = load.start(o.durationS);
  churn.start();
  let from = t0;
  const sampler = setInterval(() => {
    const to = Date.now();
    void sample(h, load, t0, from, to).then(
      (s) => {
        samples.push(s);
        log(`t=${s.t}s rss ${s.rss_mb} MB heap ${s.heap_used_mb} MB loop p99 ${s.event_loop_p99_ms} ms conns ${s.db_connections} beats ${s.beats} (p99 ${s.beat_p99_ms} ms) events ${s.tables['presence.status_events']!.rows}`);
      },
      (error: unknown) => log(`sample failed: ${String(error)}`),
    );
    from = to;
  }, o.sampleS * 1000);
  const result = await done;
  clearInterval(sampler);
  churn.stop();
  await sleep(500);

  const warm = samples.filter((s) => s.t >= 60);
  const series = (pick: (s: Sample) => number) => trend(warm.map((s) => [s.t, pick(s)] as [number, number]));
  const trends: Record<string, Trend> = {
    rss_mb: series((s) => s.rss_mb),
    heap_used_mb: series((s) => s.heap_used_mb),
    event_loop_p99_ms: series((s) => s.event_loop_p99_ms),
    db_connections: series((s) => s.db_connections),
    open_streams: series((s) => s.open_streams),
    beat_p99_ms: series((s) => s.beat_p99_ms),
  };
  for (const table of TABLES) {
    trends[`${table} rows`] = series((s) => s.tables[table]!.rows);
    trends[`${table} kB (table + indexes)`] = series((s) => s.tables[table]!.table_kb + s.tables[table]!.index_kb);
  }
  const statuses: Record<string, number> = {};
  for (const a of load.answers) statuses[a.status] = (statuses[a.status] ?? 0) + 1;
  const report = {
    when: new Date(t0).toISOString(),
    machine: { cpus: cpus().length, model: cpus()[0]?.model, load_average_start: samples[0]?.load_average, load_average_end: samples.at(-1)?.load_average },
    options: o,
    load: {
      beats_per_s_target: round(rate),
      beats: load.answers.length,
      statuses,
      errors: load.errors.length,
      p50_ms: result.latency.p50,
      p99_ms: result.latency.p99,
      streams: h.streams.length,
      stream_status_events: h.streams.reduce((n, s) => n + s.statusEvents, 0),
      stream_reconnects: h.streams.reduce((n, s) => n + s.reconnects, 0),
      sign_outs: churn.signOuts,
      sign_ins: churn.signIns,
      failed_sign_ins: churn.failedSignIns,
      churn_errors: churn.errors,
      server_warnings: h.server.warnings().lines.length,
    },
    trends,
    samples,
  };
  mkdirSync(RESULTS, { recursive: true });
  writeFileSync(join(RESULTS, 'soak.json'), `${JSON.stringify(report, null, 2)}\n`);
  const markdown = soakMarkdown(report);
  writeFileSync(join(RESULTS, 'soak.md'), markdown);
  console.log(`\n${markdown}`);
  await h.close();
}

function soakMarkdown(r: {
  when: string;
  machine: { cpus: number; load_average_start?: number; load_average_end?: number };
  options: Options;
  load: Record<string, unknown>;
  trends: Record<string, Trend>;
}): string {
  const l = r.load;
  const rows = Object.entries(r.trends).map(
    ([name, t]) =>
      `| ${name} | ${t.first} | ${t.last} | ${t.max} | ${t.slope_per_10min} | ${t.noise} | ${t.flat ? 'yes' : 'no'} | ${t.flat_second_half ? 'yes' : 'no'} |`,
  );
  return [
    `# Soak, ${r.when}`,
    '',
    `${r.options.durationS} s on ${r.machine.cpus} cores (load average ${r.machine.load_average_start} at the start, ${r.machine.load_average_end} at the end): ` +
      `${r.options.agents} agents in ${r.options.tenants} tenants beating every ${r.options.intervalS} s (${l.beats_per_s_target} beats/s, open loop), ` +
      `${l.streams} live streams, ${r.options.churnPerS} sign-out and sign-in a second, a failed sign-in every 5 s.`,
    '',
    `Beats: ${l.beats} answered (${JSON.stringify(l.statuses)}), ${l.errors} errors, p50 ${l.p50_ms} ms, p99 ${l.p99_ms} ms. ` +
      `Streams: ${l.stream_status_events} status events received, ${l.stream_reconnects} reconnects. ` +
      `Sign-outs ${l.sign_outs}, sign-ins ${l.sign_ins}, failed sign-ins ${l.failed_sign_ins}, churn errors ${l.churn_errors}. ` +
      `Server log lines at warn or above: ${l.server_warnings}.`,
    '',
    'Samples every 10 s; first, slope and flatness over the samples after the first minute (warm-up).',
    '',
    '| measure | first | last | max | slope per 10 min | noise (sd) | flat | flat, second half |',
    '|---|---:|---:|---:|---:|---:|:---:|:---:|',
    ...rows,
    '',
  ].join('\n');
}

// ---- the fault scenarios -------------------------------------------------------------------------------------------

/** What happened to the beats during a fault (from `t0` until it `ended`) and after it, until `end`. */
function outage(load: BeatLoad, rate: number, t0: number, ended: number, end: number) {
  const tally = (answers: Beat[]) => {
    const statuses: Record<string, number> = {};
    for (const a of answers) statuses[a.status] = (statuses[a.status] ?? 0) + 1;
    return statuses;
  };
  const during = load.between(t0, ended);
  const after = load.between(ended, end);
  // A 401 is a beat that raced its agent's sign-out (the churn), not the fault.
  const failuresAfter = [
    ...after.answers.filter((a) => a.status !== 200 && a.status !== 401).map((a) => a.at),
    ...load.errors.filter((e) => e.at >= ended && e.at < end).map((e) => e.at),
  ];
  const firstOk = after.answers.find((a) => a.status === 200);
  return {
    fault_s: round((ended - t0) / 1000, 2),
    beats_due_during_the_fault: Math.round((rate * (ended - t0)) / 1000),
    during: {
      statuses: tally(during.answers),
      // autocannon reconnects at once when a connection fails: while the port is closed this counts attempts.
      connection_errors: during.errors,
      slowest_answer_ms: Math.round(Math.max(0, ...during.answers.map((a) => a.ms))),
    },
    after: {
      statuses: tally(after.answers),
      connection_errors: after.errors,
      first_ok_after_s: firstOk ? round((firstOk.at - ended) / 1000, 2) : null,
      last_failure_after_s: failuresAfter.length ? round((Math.max(...failuresAfter) - ended) / 1000, 2) : null,
    },
    five_hundreds_other_than_503: [...during.answers, ...after.answers].filter((a) => a.status >= 500 && a.status !== 503).length,
  };
}

/** Acknowledged beats the database does not have: an agent whose last_seen is older than the last beat it was told of. */
async function lostBeats(h: Harness, load: BeatLoad): Promise<{ agents_checked: number; lost: number; worst_ms: number }> {
  const { rows } = await h.db.owner.query<{ id: string; last_seen: Date | null }>(
    'select id::text, last_seen from human_agents where tenant_id = any($1::uuid[])',
    [h.tenants],
  );
  let lost = 0;
  let worst = 0;
  for (const r of rows) {
    const acked = load.acked.get(r.id);
    if (acked === undefined) continue;
    const kept = r.last_seen?.getTime() ?? 0;
    if (kept < acked) {
      lost += 1;
      worst = Math.max(worst, acked - kept);
    }
  }
  return { agents_checked: load.acked.size, lost, worst_ms: worst };
}

/** The database's own consistency: chat counts, the chain of status events, the last event against the status. */
async function consistency(h: Harness) {
  const one = async (sql: string) => Number((await h.db.owner.query<{ n: string }>(sql, [h.tenants])).rows[0]!.n);
  return {
    active_chats_mismatches: await one(
      `select count(*) as n from human_agents a
        where a.tenant_id = any($1::uuid[])
          and a.active_chats <> (select count(*) from presence_private.chats c where c.agent_id = a.id and c.status = 'assigned')`,
    ),
    assigned_chats: await one(
      `select count(*) as n from presence_private.chats where tenant_id = any($1::uuid[]) and status = 'assigned'`,
    ),
    broken_event_links: await one(
      `select count(*) as n from (
         select from_status, lag(to_status) over (partition by agent_id order by at, id) as previous
           from presence.status_events where tenant_id = any($1::uuid[])) e
        where e.previous is not null and e.previous <> e.from_status`,
    ),
    last_event_not_status: await one(
      `select count(*) as n from human_agents a
         cross join lateral (select e.to_status from presence.status_events e where e.agent_id = a.id
                              order by e.at desc, e.id desc limit 1) last
        where a.tenant_id = any($1::uuid[]) and last.to_status <> a.status`,
    ),
    events: await one(`select count(*) as n from presence.status_events where tenant_id = any($1::uuid[])`),
  };
}

/** Log lines by message (its first 70 characters), with the component that wrote them. */
function tallyLines(lines: string[]): Record<string, number> {
  const tally: Record<string, number> = {};
  for (const line of lines) {
    let key = line.slice(0, 70);
    try {
      const entry = JSON.parse(line) as { msg?: string; component?: string };
      key = `${entry.component ? `${entry.component}: ` : ''}${(entry.msg ?? '').slice(0, 70)}`;
    } catch {
      // not pino's: kept as it is
    }
    tally[key] = (tally[key] ?? 0) + 1;
  }
  return tally;
}

/** Runs a fault under load: warm-up, the fault, then the load goes on until `afterS` seconds past it. */
async function underLoad<T extends { ended: number }>(
  h: Harness,
  fault: (load: BeatLoad) => Promise<T>,
  { warmS = 15, afterS = 30, extra }: { warmS?: number; afterS?: number; extra?: () => () => void } = {},
): Promise<{ beats: ReturnType<typeof outage>; load: BeatLoad; detail: Omit<T, 'ended'>; warnings: Record<string, number> }> {
  const rate = h.agents.length / h.o.intervalS;
  const load = new BeatLoad(h.base, h.agents, rate);
  const churn = new Churn(h.base, h.agents, h.o.churnPerS);
  const done = load.start(warmS + afterS + 60);
  churn.start();
  const stopExtra = extra?.();
  await sleep(warmS * 1000);
  const logFrom = h.server.warnings().total;
  const t0 = Date.now();
  const { ended, ...detail } = await fault(load);
  await sleep(afterS * 1000);
  const end = Date.now();
  load.stop();
  churn.stop();
  stopExtra?.();
  await done;
  await sleep(1_000);
  return {
    beats: outage(load, rate, t0, ended, end),
    load,
    detail,
    warnings: tallyLines(h.server.warnings(logFrom).lines),
  };
}

async function restartScenario(o: Options, mode: 'fast' | 'immediate') {
  const h = await harness(o);
  try {
    const statusBefore = h.streams.reduce((n, s) => n + s.statusEvents, 0);
    const run = await underLoad(h, async () => {
      const started = Date.now();
      await h.db.pgCtl(['-m', mode, 'restart']);
      const ready = Date.now();
      // The LISTEN connection is back when a transition (the churn's sign-outs and sign-ins) reaches the streams.
      let listening: number | null = null;
      for (let i = 0; i < 300 && listening === null; i++) {
        await sleep(100);
        const last = Math.max(...h.streams.map((s) => s.lastStatusAt));
        if (last > ready) listening = last;
      }
      return {
        ended: ready,
        restart_took_s: round((ready - started) / 1000, 2),
        streams_hear_transitions_after_s: listening ? round((listening - ready) / 1000, 2) : null,
      };
    });
    return {
      scenario: mode === 'fast' ? 'restart of PostgreSQL under load (pg_ctl restart -m fast)' : 'crash of PostgreSQL under load (pg_ctl restart -m immediate: no checkpoint, crash recovery)',
      ...run.detail,
      beats: run.beats,
      acknowledged_beats_lost: await lostBeats(h, run.load),
      database: await consistency(h),
      stream_status_events: h.streams.reduce((n, s) => n + s.statusEvents, 0) - statusBefore,
      stream_reconnects: h.streams.reduce((n, s) => n + s.reconnects, 0),
      server_log_lines_warn_or_above: run.warnings,
    };
  } finally {
    await h.close();
  }
}

async function killScenario(o: Options) {
  // Chats come back 3 s after their agent went offline, so release jobs run all the time, also when the kill comes.
  const h = await harness(o, 3);
  try {
    let chatOps = 0;
    let chatErrors = 0;
    const chats = () => {
      const timer = setInterval(() => {
        const tenant = h.tenants[Math.floor(Math.random() * h.tenants.length)]!;
        void (async () => {
          await h.db.owner.query('select presence.open_chat($1)', [tenant]);
          await h.db.owner.query('select * from presence.assign_chat($1)', [tenant]);
          const { rows } = await h.db.owner.query<{ id: string }>(
            `select id from presence_private.chats where tenant_id = $1 and status = 'assigned' order by random() limit 1`,
            [tenant],
          );
          if (rows[0] && Math.random() < 0.4) await h.db.owner.query('select presence.close_chat($1, $2)', [tenant, rows[0].id]);
          chatOps += 1;
        })().catch(() => (chatErrors += 1));
      }, 20);
      return () => clearInterval(timer);
    };
    const run = await underLoad(
      h,
      async () => {
        const killedPid = h.server.pid;
        h.server.kill9();
        const killed = Date.now();
        await sleep(200);
        const whileDown = await consistency(h);
        const stuck = await h.db.owner.query<{ n: string }>(
          `select count(*) as n from graphile_worker.jobs where locked_by is not null`,
        ).then((r) => Number(r.rows[0]!.n), () => null);
        await h.server.start(h.server.port);
        const restarted = Date.now();
        return {
          ended: restarted,
          killed_pid: killedPid,
          server_back_after_s: round((restarted - killed) / 1000, 2),
          database_right_after_the_kill: whileDown,
          jobs_locked_by_the_killed_worker: stuck,
        };
      },
      { extra: chats, afterS: 30 },
    );
    await sleep(5_000);
    const { rows: stranded } = await h.db.owner.query<{ n: string }>(
      `select count(*) as n from human_agents a
        where a.tenant_id = any($1::uuid[]) and a.status = 'offline' and a.active_chats > 0
          and a.status_since < now() - interval '20 seconds'`,
      [h.tenants],
    );
    const { rows: locked } = await h.db.owner.query<{ n: string }>(
      `select count(*) as n from graphile_worker.jobs where locked_by is not null and locked_at < now() - interval '20 seconds'`,
    ).catch(() => ({ rows: [{ n: 'n/a' }] }));
    return {
      scenario: 'kill -9 of the server under load (beats, streams, sign-outs/ins, chats opened, assigned, closed and released)',
      ...run.detail,
      beats: run.beats,
      acknowledged_beats_lost: await lostBeats(h, run.load),
      database_after_restart: await consistency(h),
      offline_agents_still_holding_chats_20s_after: Number(stranded[0]!.n),
      jobs_still_locked_20s_after: locked[0]!.n,
      chat_operations: chatOps,
      chat_errors: chatErrors,
      server_log_lines_warn_or_above: run.warnings,
    };
  } finally {
    await h.close();
  }
}

async function frozenScenario(o: Options) {
  const h = await harness(o);
  try {
    const freezeS = 20;
    const run = await underLoad(h, async () => {
      const pids = h.db.pids();
      for (const pid of pids) process.kill(pid, 'SIGSTOP');
      const frozenAt = Date.now();
      const health: Array<{ status: number; ms: number }> = [];
      const other: Array<{ route: string; status: number; ms: number }> = [];
      const someone = h.agents[0]!;
      const probes = [
        ['GET /api/agents', () => fetch(`${h.base()}/api/agents`, { headers: { cookie: someone.cookie } })],
        ['GET /api/auth/me', () => fetch(`${h.base()}/api/auth/me`, { headers: { cookie: someone.cookie } })],
        ['POST /api/auth/login', () => fetch(`${h.base()}/api/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email: someone.email, password: PASSWORD }) })],
      ] as const;
      const timed = async (request: () => Promise<Response>) => {
        const started = performance.now();
        const res = await request();
        await res.arrayBuffer();
        return { status: res.status, ms: Math.round(performance.now() - started) };
      };
      while (Date.now() - frozenAt < freezeS * 1000) {
        health.push(await timed(() => fetch(`${h.base()}/healthz`)));
        await sleep(1_000);
      }
      other.push(...(await Promise.all(probes.map(async ([route, request]) => ({ route, ...(await timed(request)) })))));
      for (const pid of pids) process.kill(pid, 'SIGCONT');
      const thawed = Date.now();
      let healthyAfter: number | null = null;
      for (let i = 0; i < 100 && healthyAfter === null; i++) {
        const res = await fetch(`${h.base()}/healthz`);
        await res.arrayBuffer();
        if (res.status === 200) healthyAfter = Date.now();
        else await sleep(100);
      }
      return {
        ended: thawed,
        frozen_s: freezeS,
        healthz_while_frozen: { answers: health.length, statuses: [...new Set(health.map((x) => x.status))], max_ms: Math.max(...health.map((x) => x.ms)) },
        other_routes_near_the_end_of_the_freeze: other,
        healthy_again_after_thaw_s: healthyAfter ? round((healthyAfter - thawed) / 1000, 2) : null,
      };
    });
    return {
      scenario: `every PostgreSQL process stopped (SIGSTOP) for ${freezeS} s under load, then continued (SIGCONT)`,
      ...run.detail,
      beats: run.beats,
      acknowledged_beats_lost: await lostBeats(h, run.load),
      database: await consistency(h),
      server_log_lines_warn_or_above: run.warnings,
    };
  } finally {
    await h.close();
  }
}

async function timingScenario(o: Options) {
  const h = await harness({ ...o, agents: 10, tenants: 1, supervisors: 1 });
  try {
    // Production's cost: the decoy for an unknown e-mail follows the policy's cost.
    await h.db.owner.query('select presence_accounts.configure_sign_in(p_bcrypt_cost => 10)');
    const tenant = h.tenants[0]!;
    const email = `timing-${randomUUID()}@soak.example`;
    await h.db.owner.query(`select presence_accounts.create_account($1, $2, 'Timing', 'support_staff', $3)`, [tenant, email, PASSWORD]);
    const wrong: number[] = [];
    const unknown: number[] = [];
    const address = () => `10.${Math.floor(Math.random() * 250)}.${Math.floor(Math.random() * 250)}.${Math.floor(Math.random() * 250)}`;
    for (let i = 0; i < 150; i++) {
      const w = await signIn(h.base(), email, `wrong-${i}-password`, address());
      const u = await signIn(h.base(), `nobody-${randomUUID()}@soak.example`, `wrong-${i}-password`, address());
      if (i >= 10) {
        if (w.status === 401) wrong.push(w.ms);
        if (u.status === 401) unknown.push(u.ms);
      }
    }
    const stats = (xs: number[]) => ({ n: xs.length, p10: round(quantile(xs, 0.1)), p50: round(quantile(xs, 0.5)), p90: round(quantile(xs, 0.9)), mean: round(xs.reduce((a, b) => a + b, 0) / xs.length) });
    return {
      scenario: 'sign-in time, wrong password of a known e-mail against an unknown e-mail (bcrypt cost 10, each from an address of its own, interleaved, 10 warm-up pairs dropped)',
      wrong_password_ms: stats(wrong),
      unknown_email_ms: stats(unknown),
      median_difference_ms: round(quantile(wrong, 0.5) - quantile(unknown, 0.5)),
    };
  } finally {
    await h.close();
  }
}

/** A wrong password over a new connection from `address` (any of 127.0.0.0/8, bound as the socket's own address). */
function wrongPasswordFrom(port: number, address: string, email: string): Promise<{ status: number; ms: number }> {
  const started = performance.now();
  const body = JSON.stringify({ email, password: 'not-the-password' });
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        localAddress: address,
        agent: false,
        method: 'POST',
        path: '/api/auth/login',
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode ?? 0, ms: performance.now() - started }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

function statusTally(answers: Array<{ status: number }>): Record<string, number> {
  const statuses: Record<string, number> = {};
  for (const a of answers) statuses[a.status] = (statuses[a.status] ?? 0) + 1;
  return statuses;
}

async function floodScenario(o: Options) {
  const loops = 40;
  const quietS = 30;
  const floodS = o.durationS;
  const h = await harness(o);
  try {
    // Production's cost for every hash the flood makes PostgreSQL compute (the decoy included).
    await h.db.owner.query('select presence_accounts.configure_sign_in(p_bcrypt_cost => 10)');
    const rate = h.agents.length / h.o.intervalS;
    const load = new BeatLoad(h.base, h.agents, rate);
    const done = load.start(5 + quietS + floodS + 5);
    await sleep(5_000);
    const quietFrom = Date.now();
    await sleep(quietS * 1000);
    const floodFrom = Date.now();
    const logFrom = h.server.warnings().total;
    const signIns: Array<{ status: number; ms: number }> = [];
    let signInErrors = 0;
    let stop = false;
    const octet = () => Math.floor(Math.random() * 254) + 1;
    const attackers = Array.from({ length: loops }, async () => {
      while (!stop) {
        const who = h.agents[Math.floor(Math.random() * h.agents.length)]!;
        try {
          signIns.push(await wrongPasswordFrom(h.server.port, `127.${octet()}.${octet()}.${octet()}`, who.email));
        } catch {
          signInErrors += 1;
        }
      }
    });
    await sleep((floodS / 2) * 1000);
    const { rows: connections } = await h.db.owner.query<{ app: string; n: string }>(
      `select coalesce(nullif(application_name, ''), backend_type) as app, count(*) as n
         from pg_stat_activity where datname = current_database() and application_name <> 'soak-driver' group by 1 order by 1`,
    );
    await sleep((floodS / 2) * 1000);
    const floodTo = Date.now();
    stop = true;
    await Promise.all(attackers);
    load.stop();
    await done;
    const { rows: verified } = await h.db.owner.query<{ n: string }>(
      `select coalesce(sum(verifications), 0) as n from presence_accounts.sign_in_verifications where kind = 'address'`,
    );
    const beats = (from: number, to: number) => {
      const { answers, errors } = load.between(from, to);
      const ms = answers.map((a) => a.ms);
      return {
        answers: answers.length,
        statuses: statusTally(answers),
        connection_errors: errors,
        p50_ms: round(quantile(ms, 0.5)),
        p99_ms: round(quantile(ms, 0.99)),
        max_ms: round(Math.max(...ms)),
      };
    };
    const quiet = beats(quietFrom, floodFrom);
    const flood = beats(floodFrom, floodTo);
    const signInMs = signIns.map((s) => s.ms);
    return {
      scenario: `${loops} concurrent loops of anonymous wrong passwords (known e-mails, bcrypt cost 10), each attempt a new connection from a random address of 127.0.0.0/8, for ${floodS} s after ${quietS} s quiet; beats of every tenant at ${round(rate)}/s throughout`,
      settings: (({ signInConnections, signInQueue }) => ({ sign_in_connections: signInConnections, sign_in_queue: signInQueue }))(
        loadConfig({ ...process.env, DATABASE_URL: h.db.cluster.url }),
      ),
      beats_quiet: quiet,
      beats_flood: flood,
      p99_flood_over_quiet: round(flood.p99_ms / quiet.p99_ms, 2),
      sign_ins: {
        answered: signIns.length,
        per_s: round(signIns.length / floodS),
        statuses: statusTally(signIns),
        connection_errors: signInErrors,
        p50_ms: round(quantile(signInMs, 0.5)),
        p99_ms: round(quantile(signInMs, 0.99)),
        passwords_verified: Number(verified[0]!.n),
      },
      database_connections_mid_flood: Object.fromEntries(connections.map((c) => [c.app, Number(c.n)])),
      server_log_lines_warn_or_above: tallyLines(h.server.warnings(logFrom).lines),
    };
  } finally {
    await h.close();
  }
}

async function faults(o: Options, which: Scenario[]): Promise<void> {
  const results: Record<string, unknown> = {};
  const when = new Date().toISOString();
  for (const scenario of which) {
    log(`scenario ${scenario}`);
    results[scenario] =
      scenario === 'restart' ? await restartScenario(o, 'fast')
      : scenario === 'crash' ? await restartScenario(o, 'immediate')
      : scenario === 'kill' ? await killScenario(o)
      : scenario === 'frozen' ? await frozenScenario(o)
      : scenario === 'flood' ? await floodScenario(o)
      : await timingScenario(o);
    console.log(JSON.stringify(results[scenario], null, 2));
  }
  const report = { when, machine: { cpus: cpus().length, load_average: loadavg().map((x) => round(x, 2)) }, options: o, results };
  mkdirSync(RESULTS, { recursive: true });
  const file = which.length > 1 ? 'faults' : `faults-${which[0]}`;
  writeFileSync(join(RESULTS, `${file}.json`), `${JSON.stringify(report, null, 2)}\n`);
  log(`wrote bench/results/${file}.json`);
}

// ---- main ------------------------------------------------------------------------------------------------------------

if (process.argv.includes('--serve')) {
  await serve();
} else {
  const o = options(process.argv.slice(2));
  if (o.scenario === 'soak') await soak(o);
  else await faults(o, o.scenario === 'faults' ? ['restart', 'crash', 'kill', 'frozen', 'timing'] : [o.scenario]);
  process.exit(0);
}
