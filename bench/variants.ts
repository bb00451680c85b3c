// What serves POST /api/auth/heartbeat in each variant of the HTTP benchmark. Every variant but `bare` is the real
// app (makeApp + createServices, the presence router, this project's sign-in): the same Express stack, the same
// Origin check, JSON body, zod, metrics, the same status changes, tab goodbyes and live streams, and one database
// call per beat that verifies its sign-in in SQL. Only what records the beat differs: the server's one call,
// presence_accounts.heartbeats, is answered by presence_accounts.session_users (the same sign-in rule, one call for
// the beats in flight) and something else for the beats of the valid sign-ins.
//
//   heartbeat  the server as it is: presence_accounts.heartbeats, one call for the beats in flight
//   noop       a constant answer for the beats
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

/** The beats of valid sign-ins, as the arrays of presence.heartbeats (server/presence/sql/heartbeats.ts). */
type BeatArrays = [tenantIds: string[], agentIds: string[], sessionIds: string[], activities: string[], signIns: Array<string | null>];

type AnswerBeats = (beats: BeatArrays) => Promise<BeatRow[]>;

/** The arrays the server passes to presence_accounts.heartbeats (server/accounts/sql/signed-in-heartbeats.ts). */
type SignedInBeatArrays = [tokenHashes: Buffer[], sessionIds: Array<string | null>, activities: string[]];

type Query = (config: unknown, values?: unknown) => Promise<{ rows: unknown[]; rowCount: number | null }>;

/**
 * Answers the pool's presence_accounts.heartbeats calls: the sign-ins verified by one presence_accounts.session_users
 * call, the beats of the valid ones by `answer`; every other statement goes on as it is. The server sends its
 * statements as query objects ({ name, text, values }: prepared statements), and reaches the database only through
 * pool.query, so nothing else of it changes.
 */
export function interceptBeats(pool: pg.Pool, answer: AnswerBeats): void {
  const query = pool.query.bind(pool) as Query;
  (pool as unknown as { query: Query }).query = (config, values) => {
    const text = typeof config === 'string' ? config : ((config as { text?: string }).text ?? '');
    if (!text.includes('presence_accounts.heartbeats(')) return query(config, values);
    const args = typeof config === 'string' ? values : (config as { values?: unknown }).values;
    return signedInBeats(query, args as SignedInBeatArrays, answer);
  };
}

interface SessionUserRow {
  ord: number;
  auth_session_id: string;
  tenant_id: string | number;
  agent_id: string | number | null;
}

async function signedInBeats(query: Query, [tokenHashes, sessionIds, activities]: SignedInBeatArrays, answer: AnswerBeats) {
  const users = (
    await query({
      name: 'bench-session-users',
      text: 'select ord, auth_session_id, tenant_id, agent_id from presence_accounts.session_users($1)',
      values: [tokenHashes],
    })
  ).rows as SessionUserRow[];
  const agents = users.filter((u) => u.agent_id !== null);
  const beats =
    agents.length === 0
      ? []
      : await answer([
          agents.map((u) => String(u.tenant_id)),
          agents.map((u) => String(u.agent_id)),
          agents.map((u) => sessionIds[u.ord - 1] ?? `unnamed:${u.auth_session_id}`),
          agents.map((u) => activities[u.ord - 1]!),
          agents.map((u) => u.auth_session_id),
        ]);
  const beatOf = new Map(agents.map((u, i) => [u.ord, beats[i]!]));
  const signedIn = new Set(users.map((u) => u.ord));
  const rows = tokenHashes.map((_, i) => {
    const beat = beatOf.get(i + 1);
    if (beat) return { ...beat, ord: i + 1, outcome: 'beat' };
    const outcome = signedIn.has(i + 1) ? 'not_agent' : 'unauthenticated';
    return { ord: i + 1, outcome, status: null, last_seen: null, heartbeat_interval_s: null };
  });
  return { rows, rowCount: rows.length };
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
