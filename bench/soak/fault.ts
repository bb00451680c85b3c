// What every fault scenario shares: the load around a fault, what happened to the beats during and after it,
// acknowledged beats the database lost, the database's own consistency, and the server's complaints.
import { round, sleep, tally } from '../stats.ts';
import type { Harness } from './harness.ts';
import { BeatLoad, Churn } from './load.ts';

/** What happened to the beats during a fault (from `t0` until it `ended`) and after it, until `end`. */
export function outage(load: BeatLoad, rate: number, t0: number, ended: number, end: number) {
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
export async function lostBeats(h: Harness, load: BeatLoad): Promise<{ agents_checked: number; lost: number; worst_ms: number }> {
  const { rows } = await h.db.owner.query<{ id: string; last_seen: Date | null }>(
    'select agent_id::text as id, last_seen from presence_private.agent_state where tenant_id = any($1::uuid[])',
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
export async function consistency(h: Harness) {
  const one = async (sql: string) => Number((await h.db.owner.query<{ n: string }>(sql, [h.tenants])).rows[0]!.n);
  return {
    active_chats_mismatches: await one(
      `select count(*) as n from presence_private.agent_state a
        where a.tenant_id = any($1::uuid[])
          and a.active_chats <> (select count(*) from presence_private.chats c where c.agent_id = a.agent_id and c.status = 'assigned')`,
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
      `select count(*) as n from presence_private.agent_state a
         cross join lateral (select e.to_status from presence.status_events e where e.agent_id = a.agent_id
                              order by e.at desc, e.id desc limit 1) last
        where a.tenant_id = any($1::uuid[]) and last.to_status <> a.status`,
    ),
    events: await one(`select count(*) as n from presence.status_events where tenant_id = any($1::uuid[])`),
  };
}

/** Log lines by message (its first 70 characters), with the component that wrote them. */
export function tallyLines(lines: string[]): Record<string, number> {
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
export async function underLoad<T extends { ended: number }>(
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
