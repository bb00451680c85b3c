// What releasing stranded chats adds to the sweep: the wall time of `select presence.sweep_stale_agents($now)` over
// 100k agents (20k online, none stale), first without chats, then with every online agent holding 2 chats (40k
// assigned, none stranded: the release pass finds them and skips them), then with 1,000 offline agents past their
// grace holding 2 chats each (2,000 chats released per sweep, handed back to them before each run). Median of 7
// runs after one unmeasured sweep. On a throwaway durable cluster (bench/cluster.ts), or DATABASE_URL.
//
//   npx tsx bench/stranded-chats.ts
import { performance } from 'node:perf_hooks';
import type pg from 'pg';
import { openBenchDatabase, withClient } from './cluster.ts';
import { median, round } from './stats.ts';

const AGENTS = 100_000;
const ONLINE = 20_000;
const STRANDED = 1_000;
const RUNS = 7;

async function timeSweeps(c: pg.Client, before: () => Promise<void>): Promise<{ ms: number; runs: number[] }> {
  const sweep = () => c.query(`select presence.sweep_stale_agents(now())`);
  await before();
  await sweep();
  const runs: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    await before();
    const t0 = performance.now();
    await sweep();
    runs.push(round(performance.now() - t0));
  }
  return { ms: round(median(runs)), runs };
}

async function main(): Promise<void> {
  const db = await openBenchDatabase(process.env.DATABASE_URL);
  try {
    const result = await withClient(db.url, async (c) => {
      // 100 tenants of 1,000 agents; the first ONLINE beat just now, the others offline for an hour.
      await c.query(`insert into tenants (id, name)
                     select ('00000000-0000-4000-8000-' || lpad(to_hex(i), 12, '0'))::uuid, 'stranded bench ' || i
                       from generate_series(1, 100) i`);
      await c.query(
        `with a as (
           insert into human_agents (id, tenant_id, name, email, status, last_seen)
           select ('00000000-0000-4000-9000-' || lpad(to_hex(i), 12, '0'))::uuid,
                  ('00000000-0000-4000-8000-' || lpad(to_hex((i - 1) / 1000 + 1), 12, '0'))::uuid,
                  'Agent ' || i, 'agent' || i || '@example.com',
                  case when i <= $1 then 'available' else 'offline' end,
                  case when i <= $1 then now() + interval '1 hour' else now() - interval '1 hour' end
             from generate_series(1, $2) i
           returning id, tenant_id, status, last_seen
         )
         insert into presence_private.agent_state (agent_id, tenant_id, status, status_since, last_seen)
         select a.id, a.tenant_id, a.status, now() - interval '1 hour', a.last_seen from a`,
        [ONLINE, AGENTS],
      );
      await c.query('vacuum analyze public.human_agents');
      await c.query('vacuum analyze presence_private.agent_state');
      const none = await timeSweeps(c, async () => {});

      // Every online agent holds 2 chats.
      await c.query(
        `insert into presence_private.chats (tenant_id, agent_id, status, created_at, assigned_at)
         select a.tenant_id, a.id, 'assigned', now(), now() from human_agents a, generate_series(1, 2)
          where a.status = 'available'`,
      );
      await c.query('update presence_private.agent_state set active_chats = 2 where status = $1', ['available']);
      await c.query('vacuum analyze presence_private.chats');
      const held = await timeSweeps(c, async () => {});

      // STRANDED offline agents past their grace get 2 chats each back before every run.
      await c.query(
        `insert into presence_private.chats (tenant_id, agent_id, status, created_at, assigned_at)
         select a.tenant_id, a.id, 'assigned', now(), now()
           from (select agent_id as id, tenant_id from presence_private.agent_state where status = 'offline'
                  order by agent_id limit $1) a, generate_series(1, 2)`,
        [STRANDED],
      );
      const strandedIds = (
        await c.query<{ id: string }>(`select distinct agent_id as id from presence_private.chats c
                                        join presence_private.agent_state a on a.agent_id = c.agent_id
                                       where a.status = 'offline'`)
      ).rows.map((r) => r.id);
      const chatIds = (
        await c.query<{ id: string; agent_id: string }>(
          `select id, agent_id from presence_private.chats where agent_id = any($1::uuid[])`,
          [strandedIds],
        )
      ).rows;
      await c.query('vacuum analyze presence_private.chats');
      const restore = async () => {
        await c.query(
          `update presence_private.chats c set status = 'assigned', agent_id = x.agent_id, assigned_at = now()
             from unnest($1::uuid[], $2::uuid[]) x(id, agent_id) where c.id = x.id`,
          [chatIds.map((r) => r.id), chatIds.map((r) => r.agent_id)],
        );
        await c.query('update presence_private.agent_state set active_chats = 2 where agent_id = any($1::uuid[])', [strandedIds]);
      };
      const stranded = await timeSweeps(c, restore);
      const { rows } = await c.query(
        `select count(*)::int as n from presence_private.chats where status = 'queued'`,
      );
      if (rows[0].n !== STRANDED * 2) throw new Error(`expected ${STRANDED * 2} chats released, found ${rows[0].n}`);
      return {
        agents: AGENTS,
        online: ONLINE,
        sweep_ms_no_chats: none,
        sweep_ms_40k_chats_held: held,
        sweep_ms_2000_chats_released: stranded,
      };
    });
    console.log(JSON.stringify(result, null, 2));
  } finally {
    await db.stop();
  }
}

await main();
