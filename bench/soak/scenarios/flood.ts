// A flood of anonymous wrong passwords from rotating 127/8 addresses against the beats of every tenant.
import http from 'node:http';
import { loadConfig } from '../../../server/config.ts';
import { quantile, round, sleep, tally } from '../../stats.ts';
import { tallyLines } from '../fault.ts';
import { harness } from '../harness.ts';
import { BeatLoad } from '../load.ts';
import type { Options } from '../options.ts';

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

export async function floodScenario(o: Options) {
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
        statuses: tally(answers),
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
        statuses: tally(signIns),
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
