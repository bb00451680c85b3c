// kill -9 of the server under load, with chats opened, assigned, closed and released meanwhile.
import { round, sleep } from '../../stats.ts';
import { consistency, lostBeats, underLoad } from '../fault.ts';
import { harness } from '../harness.ts';
import type { Options } from '../options.ts';

export async function killScenario(o: Options) {
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
      `select count(*) as n from presence_private.agent_state a
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
