// npx tsx bench/forged-notify.ts: forged notifications and one sign-in's many streams, measured on the real server
// (npm start's pieces in this process, behind this project's sign-in) on a PostgreSQL cluster of the run's own. About
// a minute. Not part of CI.
//
//   1. Quiet: another tenant's agent beats back to back for --seconds (default 10): p50 and p99, /metrics bytes, RSS.
//   2. Forged: the same beats while a login role granted nothing sends --notifications (default 100,000) with
//      distinct reasons on presence_status, forged transitions and sign-outs (null and a real sign-in id) and garbage,
//      with --streams (default 20) live streams of the attacked tenant open. Reported: the beats, /metrics bytes, RSS,
//      the reads the server made, status frames the streams showed, streams still open.
//   3. Streams: one sign-in asks for 100 streams; how many were served, how many refused, with what.
//
// Writes bench/results/forged-notify.json and prints a Markdown table.
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { createParser } from 'eventsource-parser';
import pg from 'pg';
import { pino } from 'pino';
import { ensureAppLogin } from '../db/app-login.ts';
import { startCluster } from '../db/cluster.ts';
import { migrate } from '../db/migrate.ts';
import { makeApp } from '../server/app.ts';
import { loadConfig, projectRoot } from '../server/config.ts';
import { createAppPool } from '../server/pool.ts';
import { defaultMaxStreams } from '../server/presence/descriptors.ts';
import { createServices } from '../server/services.ts';
import { quantile, round, sleep } from './stats.ts';

const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i < 0 ? fallback : Number(process.argv[i + 1]);
};
const SECONDS = arg('seconds', 10);
const NOTIFICATIONS = arg('notifications', 100_000);
const STREAMS = arg('streams', 20);
const PASSWORD = 'bench-password';

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'presence-forged-'));
  const cluster = await startCluster({ dataDir: join(dir, 'pg'), ephemeral: false });
  const owner = new pg.Pool({ connectionString: cluster.url, max: 4 });
  let server: Server | undefined;
  let close = async () => {};
  try {
    await migrate(cluster.url);
    await owner.query('select presence_accounts.configure_sign_in(p_bcrypt_cost => 4)');
    const config = loadConfig({ ...process.env, NODE_ENV: 'production', LOG_LEVEL: 'silent', DATABASE_URL: cluster.url });
    const appUrl = await ensureAppLogin(cluster.url);
    const pool = createAppPool(appUrl);
    // The reads a ring can cause: presence.status_changes_after, presence.sign_ins_ended and presence.tenant_summaries.
    let reads = 0;
    pool.on('connect', (client) => {
      const query = client.query.bind(client) as (...args: unknown[]) => unknown;
      (client as unknown as { query: (...args: unknown[]) => unknown }).query = (...args: unknown[]) => {
        const text = typeof args[0] === 'string' ? args[0] : String((args[0] as { text?: string })?.text ?? '');
        if (/status_changes_after|sign_ins_ended|tenant_summaries/.test(text)) reads += 1;
        return query(...args);
      };
    });
    const services = createServices(config, appUrl, pino({ level: 'silent' }), { pool });
    await services.presence.listener.ready();
    server = makeApp(services).listen(0, '127.0.0.1');
    await new Promise<void>((resolve) => server!.once('listening', resolve));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    close = async () => {
      services.presence.streams.close();
      server!.closeAllConnections();
      await new Promise<void>((resolve) => server!.close(() => resolve()));
      await services.close();
    };

    const user = async (tenantId: string, role = 'support_staff') => {
      const email = `u-${randomBytes(6).toString('hex')}@example.com`;
      const { rows } = await owner.query('select user_id, agent_id::text from presence_accounts.create_account($1, $2, $3, $4, $5, 5)', [
        tenantId,
        email,
        'Bench User',
        role,
        PASSWORD,
      ]);
      const res = await fetch(`${base}/api/auth/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ email, password: PASSWORD }),
      });
      const cookie = res.headers.getSetCookie().find((c) => c.startsWith('presence_session='))!.split(';')[0]!;
      return { userId: rows[0].user_id as string, agentId: rows[0].agent_id as string, cookie };
    };
    const tenant = async () => (await owner.query('insert into tenants (name) values ($1) returning id', [`t-${randomBytes(4).toString('hex')}`])).rows[0].id as string;

    const attacked = await tenant();
    const bystander = await tenant();
    const victim = await user(attacked);
    const beater = await user(bystander);
    const { rows: sessions } = await owner.query('select id::text from presence_accounts.auth_sessions where user_id = $1', [victim.userId]);

    // The attacked tenant's streams, counting the status frames they show.
    let statusFrames = 0;
    const controllers: AbortController[] = [];
    let ended = 0;
    for (let i = 0; i < STREAMS; i++) {
      const watcher = await user(attacked, 'supervisor');
      const controller = new AbortController();
      controllers.push(controller);
      const res = await fetch(`${base}/api/agents/stream`, { headers: { cookie: watcher.cookie }, signal: controller.signal });
      const parser = createParser({ onEvent: (e) => (e.event === 'status' ? (statusFrames += 1) : undefined) });
      void (async () => {
        try {
          for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) parser.feed(Buffer.from(chunk).toString());
          ended += 1;
        } catch {
          // aborted at the end of the run
        }
      })();
    }
    await fetch(`${base}/api/auth/heartbeat`, { method: 'POST', headers: { cookie: victim.cookie, 'content-type': 'application/json' }, body: '{"sessionId":"tab"}' });
    await sleep(500);
    const framesBefore = statusFrames;

    const beats = async (until: Promise<unknown> | null): Promise<{ p50: number; p99: number; n: number }> => {
      const times: number[] = [];
      const deadline = Date.now() + SECONDS * 1000;
      let done = false;
      void until?.then(() => (done = true));
      while (Date.now() < deadline || (until && !done)) {
        const started = performance.now();
        await fetch(`${base}/api/auth/heartbeat`, {
          method: 'POST',
          headers: { cookie: beater.cookie, 'content-type': 'application/json' },
          body: '{"sessionId":"tab"}',
        }).then((r) => r.arrayBuffer());
        times.push(performance.now() - started);
      }
      return { p50: round(quantile(times, 0.5), 2), p99: round(quantile(times, 0.99), 2), n: times.length };
    };
    const scrape = async () => {
      const text = await (await fetch(`${base}/metrics`)).text();
      return { metricsBytes: text.length, presenceSeries: text.split('\n').filter((l) => l.startsWith('presence_')).length };
    };
    const rssMb = () => round(process.memoryUsage().rss / 2 ** 20, 0);

    // 1. Quiet
    const quiet = { beats: await beats(null), ...(await scrape()), rssMb: rssMb() };

    // 2. Forged
    const attacker = `bench_forger_${randomBytes(4).toString('hex')}`;
    const secret = randomBytes(12).toString('hex');
    await owner.query(`create role ${attacker} login password '${secret}'`);
    const url = new URL(cluster.url);
    url.username = attacker;
    url.password = secret;
    const forger = new pg.Client({ connectionString: url.toString() });
    await forger.connect();
    const readsBefore = reads;
    const flood = (async () => {
      const started = performance.now();
      const at = new Date().toISOString();
      const forged = { tenant: attacked, agent: victim.agentId, from: 'available', to: 'offline', chosen: 'available', reason: 'timeout', at };
      await forger.query(`select pg_notify('presence_status', $1)`, [JSON.stringify(forged)]);
      for (const signIn of [null, sessions[0].id]) {
        await forger.query(`select pg_notify('presence_sign_in_ended', $1)`, [JSON.stringify({ tenant: attacked, signIn })]);
      }
      for (let sent = 0; sent < NOTIFICATIONS; sent += 5_000) {
        await forger.query(
          `select count(pg_notify('presence_status', json_build_object('tenant', $1::text, 'agent', $2::text, 'from', 'available',
                  'to', 'offline', 'chosen', 'available', 'reason', 'r' || g, 'at', now())::text))
             from generate_series($3::int, $3::int + 4999) g`,
          [attacked, victim.agentId, sent],
        );
      }
      for (const garbage of ['', 'not json', '{"tenant":', 'x'.repeat(7_000)]) {
        await forger.query(`select pg_notify('presence_status', $1), pg_notify('presence_sign_in_ended', $1)`, [garbage]);
      }
      return performance.now() - started;
    })();
    const forgedBeats = await beats(flood);
    const floodMs = await flood;
    await sleep(500);
    const forged = {
      beats: forgedBeats,
      ...(await scrape()),
      rssMb: rssMb(),
      floodS: round(floodMs / 1000, 1),
      // the server's reads of events and ended sign-ins while the rings arrived (and the beats' own transitions)
      serverReads: reads - readsBefore,
      statusFramesShown: statusFrames - framesBefore,
      streamsOpen: STREAMS - ended,
    };
    await forger.end();
    await owner.query(`drop role ${attacker}`);
    for (const c of controllers) c.abort();

    // 3. Streams of one sign-in
    const greedy = await user(bystander);
    const answers: Record<string, number> = {};
    const held: AbortController[] = [];
    let refusal: { status: number; retryAfter: string | null; body: unknown } | null = null;
    for (let i = 0; i < 100; i++) {
      const controller = new AbortController();
      const res = await fetch(`${base}/api/agents/stream`, { headers: { cookie: greedy.cookie }, signal: controller.signal });
      answers[res.status] = (answers[res.status] ?? 0) + 1;
      if (res.ok) held.push(controller);
      else refusal ??= { status: res.status, retryAfter: res.headers.get('retry-after'), body: await res.json() };
    }
    for (const c of held) c.abort();

    const commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: projectRoot }).toString().trim();
    const result = {
      commit,
      date: new Date().toISOString(),
      notifications: NOTIFICATIONS,
      streams: STREAMS,
      quiet,
      forged,
      oneSignIn: { asked: 100, answers, refusal },
      processDefaultMaxStreams: defaultMaxStreams(),
    };
    mkdirSync(join(projectRoot, 'bench', 'results'), { recursive: true });
    writeFileSync(join(projectRoot, 'bench', 'results', 'forged-notify.json'), `${JSON.stringify(result, null, 2)}\n`);
    console.log(`| | quiet | during ${NOTIFICATIONS.toLocaleString('en')} forged notifications |`);
    console.log('|---|---|---|');
    console.log(`| another tenant's beats p50 / p99 (ms) | ${quiet.beats.p50} / ${quiet.beats.p99} | ${forged.beats.p50} / ${forged.beats.p99} |`);
    console.log(`| /metrics bytes / presence_ series | ${quiet.metricsBytes} / ${quiet.presenceSeries} | ${forged.metricsBytes} / ${forged.presenceSeries} |`);
    console.log(`| server RSS (MB) | ${quiet.rssMb} | ${forged.rssMb} |`);
    console.log(`| reads the server made for the rings | | ${forged.serverReads} in ${forged.floodS} s |`);
    console.log(`| forged status frames shown / streams still open | | ${forged.statusFramesShown} / ${forged.streamsOpen} of ${STREAMS} |`);
    console.log(`one sign-in asking for 100 streams: ${JSON.stringify(answers)}; first refusal ${JSON.stringify(refusal)}`);
    console.log(`process default max streams here: ${result.processDefaultMaxStreams}; commit ${commit}`);
  } finally {
    await close().catch(() => {});
    await owner.end().catch(() => {});
    await cluster.stop({ remove: true }).catch(() => {});
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
