// What serves POST /api/auth/heartbeat in each variant of the HTTP benchmark. Every variant but `bare` is the real
// app (makeApp + createServices, the presence router, this project's sign-in): the same Express stack, the same
// Origin check, JSON body, zod, metrics, and the same identify (the sign-in session looked up in SQL with
// presence_accounts.session_users, batched), the same status changes, tab goodbyes and live streams. Only the
// statement behind the beat differs: the router's call of presence.heartbeats is answered by something else.
//
//   heartbeat  the server as it is: presence.heartbeats, one call for the beats in flight
//   noop       a constant answer instead of that call
//   redis      ZADD presence:<tenant> <now> <agent> for each beat (ioredis, auto-pipelining), as Chatwoot keeps it
//   seed       the original design note's heartbeat: per beat, read all of the tenant's
//              agents, find the caller (by e-mail there; by its agent id here, which the beat carries), update its
//              last_seen and, if it was offline, its status: three statements as the database owner
//   bare       bare Express 5: express.json() and a constant answer, no other middleware, no authentication: the
//              ceiling of the HTTP stack on this machine
import express, { type Express } from 'express';
import type { Redis } from 'ioredis';
import type pg from 'pg';

export const VARIANTS = ['heartbeat', 'noop', 'redis', 'seed', 'bare'] as const;
export type Variant = (typeof VARIANTS)[number];

interface BeatRow {
  ord: number;
  status: string;
  last_seen: Date;
  heartbeat_interval_s: number;
}

/** The arrays the router passes to presence.heartbeats (server/presence/sql/heartbeats.ts). */
type BeatArrays = [tenantIds: string[], agentIds: string[], sessionIds: string[], activities: string[], signIns: Array<string | null>];

type AnswerBeats = (beats: BeatArrays) => Promise<BeatRow[]>;

/**
 * Answers the pool's presence.heartbeats calls with `answer` and sends every other statement on as it is. The router
 * reaches the database only through pool.query, so nothing else of it changes.
 */
export function interceptBeats(pool: pg.Pool, answer: AnswerBeats): void {
  const query = pool.query.bind(pool) as (text: unknown, values?: unknown) => Promise<unknown>;
  (pool as unknown as { query: (text: unknown, values?: unknown) => Promise<unknown> }).query = (text, values) => {
    if (typeof text === 'string' && text.includes('presence.heartbeats(')) {
      return answer(values as BeatArrays).then((rows) => ({ rows, rowCount: rows.length }));
    }
    return query(text, values);
  };
}

export function noopBeats(): AnswerBeats {
  return async ([, agents]) => {
    const now = new Date();
    return agents.map((_, i) => ({ ord: i + 1, status: 'available', last_seen: now, heartbeat_interval_s: 30 }));
  };
}

export const REDIS_KEY_PREFIX = 'bench:presence:';

export function redisBeats(redis: Redis): AnswerBeats {
  return async ([tenants, agents]) => {
    const now = Date.now();
    await Promise.all(agents.map((agent, i) => redis.zadd(`${REDIS_KEY_PREFIX}${tenants[i]}`, now, agent)));
    return agents.map((_, i) => ({ ord: i + 1, status: 'available', last_seen: new Date(now), heartbeat_interval_s: 30 }));
  };
}

interface AgentRow {
  id: string;
  status: string;
}

/** The original design, through `owner` (that app had direct table access); each beat as its own request did it. */
export function seedBeats(owner: pg.Pool): AnswerBeats {
  const one = async (tenant: string, agent: string): Promise<string> => {
    const { rows } = await owner.query<AgentRow>('select * from public.human_agents where tenant_id = $1', [tenant]);
    const me = rows.find((a) => a.id === agent);
    if (!me) return 'offline';
    await owner.query('update public.human_agents set last_seen = now() where id = $1 and tenant_id = $2', [agent, tenant]);
    if (me.status !== 'offline') return me.status;
    await owner.query("update public.human_agents set status = 'available' where id = $1 and tenant_id = $2", [agent, tenant]);
    return 'available';
  };
  return async ([tenants, agents]) => {
    const statuses = await Promise.all(agents.map((agent, i) => one(tenants[i]!, agent)));
    const now = new Date();
    return statuses.map((status, i) => ({ ord: i + 1, status, last_seen: now, heartbeat_interval_s: 30 }));
  };
}

/** Bare Express 5: the JSON parser and a constant answer to every request. */
export function bareApp(): Express {
  const app = express();
  app.use(express.json());
  const reply = { status: 'available', lastSeen: new Date().toISOString(), intervalMs: 30_000 };
  app.use((_req, res) => {
    res.json(reply);
  });
  return app;
}
