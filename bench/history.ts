// History at 1M events: `npx tsx bench/history.ts` (a throwaway cluster of its own, removed afterwards; a few
// minutes on 2 cores). Seeds 2,000 agents with 400 transitions each over 30 days (800k) and one busy agent with
// 200k in the same 30 days, first on the schema before the bounded history (migrations up to 1795500000230), then
// migrates to the newest and measures the same questions again:
//   - the busy agent's whole history in one answer (before) / its first page and a page from the middle (after);
//   - one agent-day of time_in_status, for an ordinary agent and for the busy one: the view filtered on tenant,
//     agent and day (before and after), presence.time_in_status_for (after);
//   - after: over HTTP (the presence router in this process, its pool as npm start makes it), 20 concurrent requests
//     of a whole-of-time range (0001 to 9999) and 20 of the busy agent's last 31 days, and one client walking all
//     200k events page by page.
// Prints median milliseconds of 5 runs and the size of each answer; docs/reliability.md carries the figures.
import { cpSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { AddressInfo } from 'node:net';
import express from 'express';
import type pg from 'pg';
import { pino } from 'pino';
import { ensureAppLogin } from '../db/app-login.ts';
import { startCluster } from '../db/cluster.ts';
import { migrate, MIGRATIONS_DIR } from '../db/migrate.ts';
import { withClient } from './cluster.ts';
import { createAppPool } from '../server/pool.ts';
import { presenceRouter } from '../server/presence/router.ts';
import { median, round } from './stats.ts';

const AGENTS = 2_000;
const EVENTS_PER_AGENT = 400;
const BUSY_EVENTS = 200_000;
const DAYS = 30;
const RUNS = 5;
const BEFORE = '1795500000230_privileges.sql';

const log = (m: string) => console.log(m);

async function timed(c: pg.Client, text: string, values: unknown[]): Promise<{ ms: number; bytes: number; rows: unknown[] }> {
  const times: number[] = [];
  let rows: unknown[] = [];
  for (let i = 0; i < RUNS; i++) {
    const t0 = performance.now();
    rows = (await c.query(text, values)).rows;
    times.push(performance.now() - t0);
  }
  return { ms: round(median(times)), bytes: Buffer.byteLength(JSON.stringify(rows)), rows };
}

async function seed(c: pg.Client): Promise<{ tenant: string; agent: string; busy: string; day: string }> {
  const t0 = performance.now();
  const tenant = (await c.query<{ id: string }>(`insert into tenants (name) values ('bench history') returning id`)).rows[0]!.id;
  await c.query(
    `insert into human_agents (tenant_id, name, email) select $1, 'agent ' || i, 'agent' || i || '@bench.example'
       from generate_series(1, $2) i`,
    [tenant, AGENTS + 1],
  );
  const { rows: agents } = await c.query<{ id: string }>('select id from human_agents where tenant_id = $1 order by email', [tenant]);
  const busy = agents[0]!.id;
  // Alternating available/away, evenly spread over the last 30 days, agent by agent (as a real table fills: one
  // agent's events are scattered over many pages).
  await c.query(
    `insert into presence.status_events (tenant_id, agent_id, from_status, to_status, mechanism, at)
     select $1::uuid, a.id,
            case when n % 2 = 0 then 'away' else 'available' end,
            case when n % 2 = 0 then 'available' else 'away' end,
            'manual',
            now() - make_interval(days => $4) + (n * (interval '1 day' * $4 / $3))
       from generate_series(1, $3) n
      cross join human_agents a
      where a.tenant_id = $1::uuid and a.id <> $2::uuid
      order by n, a.id`,
    [tenant, busy, EVENTS_PER_AGENT, DAYS],
  );
  await c.query(
    `insert into presence.status_events (tenant_id, agent_id, from_status, to_status, mechanism, at)
     select $1::uuid, $2::uuid,
            case when n % 2 = 0 then 'away' else 'available' end,
            case when n % 2 = 0 then 'available' else 'away' end,
            'manual',
            now() - make_interval(days => $4) + (n * (interval '1 day' * $4 / $3))
       from generate_series(1, $3) n`,
    [tenant, busy, BUSY_EVENTS, DAYS],
  );
  await c.query('vacuum analyze presence.status_events');
  await c.query('vacuum analyze public.human_agents');
  const { rows } = await c.query<{ n: string }>('select count(*)::text as n from presence.status_events');
  log(`seeded ${rows[0]!.n} events in ${round((performance.now() - t0) / 1000)} s`);
  const day = (await c.query<{ day: string }>(`select ((now() at time zone 'UTC')::date - 10)::text as day`)).rows[0]!.day;
  return { tenant, agent: agents[1]!.id, busy, day: String(day) };
}

async function measure(c: pg.Client, ids: { tenant: string; agent: string; busy: string }, day: string, after: boolean) {
  const label = after ? 'after' : 'before';
  const whole = await timed(
    c,
    `select * from presence.agent_history($1, $2, now() - interval '${DAYS + 1} days', now())`,
    [ids.tenant, ids.busy],
  );
  const events = (whole.rows[0] as { events: unknown[] }).events.length;
  log(`${label}: busy agent, ${DAYS + 1} days of history in one call: ${whole.ms} ms, ${events} events, ${whole.bytes >= 1e6 ? `${round(whole.bytes / 1e6)} MB` : `${round(whole.bytes / 1e3)} kB`}`);
  if (after) {
    const { rows } = await c.query<{ next_cursor: string }>(
      `select next_cursor from presence.agent_history($1, $2, now() - interval '${DAYS + 1} days', now(), 2000,
         presence_private.history_cursor(now() - interval '15 days', 0))`,
      [ids.tenant, ids.busy],
    );
    const middle = await timed(
      c,
      `select * from presence.agent_history($1, $2, now() - interval '${DAYS + 1} days', now(), 500, $3)`,
      [ids.tenant, ids.busy, rows[0]!.next_cursor],
    );
    log(`after: busy agent, a page of 500 from the middle (cursor): ${middle.ms} ms, ${round(middle.bytes / 1e3)} kB`);
  }
  for (const [who, agent] of [
    ['ordinary agent', ids.agent],
    ['busy agent', ids.busy],
  ] as const) {
    const view = await timed(
      c,
      'select status, seconds from presence.time_in_status where tenant_id = $1 and agent_id = $2 and day = $3::date',
      [ids.tenant, agent, day],
    );
    log(`${label}: ${who}, one day of presence.time_in_status (the view): ${view.ms} ms`);
    if (after) {
      const fn = await timed(c, 'select * from presence.time_in_status_for($1, $2, $3::date, $3::date)', [ids.tenant, agent, day]);
      log(`after: ${who}, one day of presence.time_in_status_for: ${fn.ms} ms`);
    }
  }
}

/** The history route over HTTP, as a platform mounts the router, for the busy agent's tenant. */
async function overHttp(url: string, ids: { tenant: string; busy: string }) {
  const pool = createAppPool(await ensureAppLogin(url));
  const router = presenceRouter({ pool, identify: () => ({ tenantId: ids.tenant, agentId: null }), logger: pino({ level: 'silent' }) });
  const server = express().use(router).listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/agents/${ids.busy}/history`;
  try {
    const burst = async (label: string, query: string) => {
      const rss0 = process.memoryUsage().rss;
      const t0 = performance.now();
      const answers = await Promise.all(
        Array.from({ length: 20 }, async () => {
          const s0 = performance.now();
          const res = await fetch(`${base}?${query}`);
          const bytes = (await res.arrayBuffer()).byteLength;
          return { status: res.status, ms: performance.now() - s0, bytes };
        }),
      );
      const statuses = [...new Set(answers.map((a) => a.status))].join(', ');
      log(
        `after, HTTP: 20 concurrent ${label}: status ${statuses}, all answered in ${round(performance.now() - t0)} ms ` +
          `(median ${round(median(answers.map((a) => a.ms)))} ms), ${round(answers[0]!.bytes / 1e3)} kB each, ` +
          `process RSS ${round(rss0 / 1e6)} -> ${round(process.memoryUsage().rss / 1e6)} MB`,
      );
    };
    const to = new Date().toISOString();
    const from = new Date(Date.now() - (DAYS + 1) * 86_400_000).toISOString();
    const range = `from=${encodeURIComponent(from)}&to=${encodeURIComponent(to)}`;
    // Unmeasured: the pool's connections are made and the statements planned, as on a server that has been up.
    await Promise.all(Array.from({ length: 20 }, () => fetch(`${base}?${range}`).then((res) => res.arrayBuffer())));
    await burst('whole-of-time requests (0001 to 9999)', 'from=0001-01-01T00:00:00Z&to=9999-12-31T00:00:00Z');
    await burst(`first pages of ${DAYS + 1} days`, range);
    const t0 = performance.now();
    let pages = 0;
    let events = 0;
    let cursor: string | null = null;
    do {
      const res = await fetch(`${base}?${range}&limit=2000${cursor ? `&cursor=${cursor}` : ''}`);
      const page = (await res.json()) as { events: unknown[]; nextCursor: string | null };
      pages += 1;
      events += page.events.length;
      cursor = page.nextCursor;
    } while (cursor);
    log(`after, HTTP: one client walking ${events} events in ${pages} pages of 2,000: ${round((performance.now() - t0) / 1000)} s`);
  } finally {
    server.close();
    await router.close();
    await pool.end();
  }
}

async function main() {
  const root = mkdtempSync(join(tmpdir(), 'presence-bench-history-'));
  const cluster = await startCluster({ dataDir: join(root, 'pg'), ephemeral: true });
  try {
    // The schema before the bounded history: the landed migrations up to BEFORE.
    const before = join(root, 'migrations-before');
    cpSync(MIGRATIONS_DIR, before, { recursive: true });
    for (const file of readdirSync(before)) if (file > BEFORE) rmSync(join(before, file));
    await migrate(cluster.url, { dir: before });
    await withClient(cluster.url, async (c) => {
      if ((await c.query("select 1 from pg_extension where extname = 'pg_cron'")).rowCount) {
        await c.query("select cron.unschedule(jobid) from cron.job where jobname = 'presence-sweep'");
      }
      const ids = await seed(c);
      await measure(c, ids, ids.day, false);
      const t0 = performance.now();
      await migrate(cluster.url);
      log(`migrated to the newest in ${round((performance.now() - t0) / 1000)} s (builds the (agent_id, at, id) index)`);
      await c.query('analyze presence.status_events');
      await measure(c, ids, ids.day, true);
    });
    const ids = await withClient(cluster.url, async (c) => {
      const { rows } = await c.query<{ tenant: string; busy: string }>(
        `select tenant_id as tenant, agent_id as busy from presence.status_events group by 1, 2 order by count(*) desc limit 1`,
      );
      return rows[0]!;
    });
    await overHttp(cluster.url, ids);
  } finally {
    await cluster.stop({ remove: true });
    rmSync(root, { recursive: true, force: true });
  }
}

await main();
