// What the heartbeat route calls instead of the real HeartbeatBatcher, for the baselines. Each has the
// batcher's `beat(tokenHash, sessionId, activity)` shape, so the route, the cookie parsing, the validation and
// the reply are the same code for all four; only what happens behind `beat` differs.
import type pg from 'pg';
import type { Redis } from 'ioredis';
import type { Activity, BeatResult, HeartbeatBatcher } from '../server/db/heartbeat.ts';
import { sessionUser } from '../server/db/sessionUser.ts';

export type Beater = Pick<HeartbeatBatcher, 'beat'>;

/** The ceiling: the database call replaced by a constant answer. */
export function noopBeater(): Beater {
  const lastSeen = new Date();
  return {
    beat: async (): Promise<BeatResult> => ({ outcome: 'beat', status: 'available', lastSeen, heartbeatIntervalS: 30 }),
  };
}

interface Who {
  tenantId: string;
  agentId: string | null;
  until: number;
}

const AUTH_CACHE_MS = 60_000;
export const REDIS_KEY_PREFIX = 'bench:presence:';

/**
 * Presence in a Redis sorted set per tenant (member agent, score time), as Chatwoot keeps it: ZADD with
 * ioredis auto-pipelining. The sign-in session is checked with presence.session_user once per cookie and then
 * kept in process for a minute, so a beat costs no database round trip at all: the strongest Redis design.
 */
export function redisBeater(db: pg.Pool, redis: Redis, keyPrefix: string): Beater {
  const sessions = new Map<string, Who>();
  return {
    async beat(tokenHash: Buffer): Promise<BeatResult> {
      const key = tokenHash.toString('base64');
      let who = sessions.get(key);
      if (!who || who.until < Date.now()) {
        const user = await sessionUser(db, tokenHash);
        if (!user) return { outcome: 'unauthenticated' };
        who = { tenantId: user.tenantId, agentId: user.agentId, until: Date.now() + AUTH_CACHE_MS };
        sessions.set(key, who);
      }
      if (!who.agentId) return { outcome: 'not_agent' };
      const now = Date.now();
      await redis.zadd(`${keyPrefix}${who.tenantId}`, now, who.agentId);
      return { outcome: 'beat', status: 'available', lastSeen: new Date(now), heartbeatIntervalS: 30 };
    },
  };
}

interface AgentRow {
  id: string;
  email: string;
  status: string;
}

/**
 * The original design (/work/shared/seeds/000_285fde5533c63b85.txt): authenticate the request (here: the same
 * presence.session_user lookup the app's requireUser does), read all of the tenant's agents, find the caller
 * by e-mail, update its last_seen, and set it available if it was offline. Direct table access, as that app
 * had: through `owner`, a pool of the database owner. Benchmark only; never part of the server.
 */
export function originalBeater(db: pg.Pool, owner: pg.Pool): Beater {
  return {
    async beat(tokenHash: Buffer, _sessionId: string, _activity: Activity): Promise<BeatResult> {
      const user = await sessionUser(db, tokenHash);
      if (!user) return { outcome: 'unauthenticated' };
      if (!user.agentId) return { outcome: 'not_agent' };
      const { rows: agents } = await owner.query<AgentRow>('select * from public.human_agents where tenant_id = $1', [
        user.tenantId,
      ]);
      const agent = agents.find((a) => a.email === user.email);
      let status = agent?.status ?? 'offline';
      if (agent) {
        await owner.query('update public.human_agents set last_seen = now() where id = $1 and tenant_id = $2', [
          agent.id,
          user.tenantId,
        ]);
        if (agent.status === 'offline') {
          await owner.query("update public.human_agents set status = 'available' where id = $1 and tenant_id = $2", [
            agent.id,
            user.tenantId,
          ]);
          status = 'available';
        }
      }
      return { outcome: 'beat', status, lastSeen: new Date(), heartbeatIntervalS: user.heartbeatIntervalS };
    },
  };
}
