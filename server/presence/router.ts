// presenceRouter({ pool, identify }): the presence routes, for the platform to mount behind its own sign-in. Each
// handler asks `identify` who is calling, validates (zod), calls one presence function and shapes the reply;
// everything that decides presence lives in SQL. The standalone server (npm start) is built on this same router,
// with one option more: `beat`, which identifies and beats in one database call (server/accounts/signed-in.ts).
//
//   POST {base}/heartbeat            one beat of one tab                     -> HeartbeatReply
//   POST {base}/leave                a tab's goodbye (sendBeacon on pagehide) -> 204
//   PUT  {base}/status               the agent's own choice                  -> StatusReply
//   PUT  {base}/agents/:id/status    a manager's choice for an agent         -> StatusReply
//   GET  {base}/agents               the caller's tenant                     -> AgentsReply
//   GET  {base}/stream               Server-Sent Events of the caller's tenant
//   GET  {base}/agents/:id/history   one agent's timeline, a page at a time  -> History
//   GET  {base}/agents/:id/day       one agent's day in the tenant's zone    -> AgentDay
//   GET  {base}/summary              the team at a glance                    -> Summary
//   GET  {base}/reasons              the tenant's reasons                    -> ReasonsReply
//   POST {base}/reasons              a new reason (managers)                 -> 201 TenantReason
//   PATCH {base}/reasons/:id         rename, reorder, retire (managers)      -> TenantReason
// (the paths, the request and answer types: server/http/contract.ts)
import { createHash } from 'node:crypto';
import express, { type Request, type RequestHandler, type Router } from 'express';
import type pg from 'pg';
import { pino, type Logger } from 'pino';
import client from 'prom-client';
import { z } from 'zod';
import { DatabaseAvailability } from '../database/availability.ts';
import { Database } from '../database/handle.ts';
import {
  ACTIVITIES,
  MAX_REASON_LABEL_LENGTH,
  MAX_UNTIL_S,
  ROUTES,
  STATUSES,
  type AgentDay,
  type AgentsReply,
  type HeartbeatReply,
  type History,
  type NewReasonRequest,
  type PresenceRoute,
  type ReasonUpdate,
  type ReasonsReply,
  type StatusReply,
  type StatusRequest,
  type Summary,
  type TenantReason,
} from '../http/contract.ts';
import { errorHandler } from '../http/errors.ts';
import { HttpError, unauthenticated } from '../http/http-error.ts';
import { parseInput, pgText, tabIdSchema } from '../http/input.ts';
import { originCheck } from '../http/origin.ts';
import { Batcher } from '../database/batcher.ts';
import { defaultMaxStreams } from './descriptors.ts';
import { toCaller, type BeatOutcome, type Caller, type Identify, type IdentifiedBeat } from './identity.ts';
import { ChangeListener } from './listener.ts';
import { createPresenceMetrics, type PresenceMetrics } from './metrics.ts';
import { agentOfTenant, agentsOfTenant } from './sql/agents.ts';
import { endTab } from './sql/end-tab.ts';
import { heartbeats, type Beat, type BeatResult } from './sql/heartbeats.ts';
import { agentDay } from './sql/agent-day.ts';
import { agentHistory } from './sql/history.ts';
import { addReason, reasonsOfTenant, updateReason } from './sql/reasons.ts';
import { tenantSummaries } from './sql/summary.ts';
import { setStatus } from './sql/set-status.ts';
import { StreamHub } from './streams.ts';
import { SummaryFeed } from './summaries.ts';
import { agentIdSchema, daySchema, historyCursorSchema, historyLimitSchema, reasonIdSchema } from './validation.ts';

export interface PresenceRouterOptions {
  /** A pool on the platform's database, logged in as a member of presence_app. One connection is held for LISTEN. */
  pool: pg.Pool;
  /** Who is calling: { tenantId, agentId } for an agent, { tenantId, agentId: null } for a watcher, null for 401. */
  identify: Identify;
  /**
   * Who is calling and its beat in one step, for a host whose sign-in lives in the same database (the standalone
   * server: one call per beat). When given, the heartbeat route calls it instead of `identify` then
   * presence.heartbeats; `identify` still answers every other route, and a heartbeat whose body is refused.
   */
  beat?: IdentifiedBeat;
  logger?: Logger;
  /** The database availability tracker the router's queries and 503s report to; default one of its own on `logger`. */
  availability?: DatabaseAvailability;
  /** Where the presence metrics go (prom-client); default a registry of the router's own. */
  registry?: client.Registry;
  /** Other paths for some routes (relative to the mount point), e.g. the standalone server's historical ones. */
  paths?: Partial<Record<PresenceRoute, string>>;
  /** Keep-alive comment interval of live streams, ms (proxies close idle connections). Default 15 s. */
  streamKeepAliveMs?: number;
  /** Open live streams of one sign-in (of one agent when `identify` gives no sign-in); beyond: 429. Default 16. */
  maxStreamsPerSignIn?: number;
  /** Open live streams of one tenant in this process; beyond: 429. Default 1,000. */
  maxStreamsPerTenant?: number;
  /**
   * Open live streams in this process; beyond: 503. Default a quarter of the process's file-descriptor limit, at
   * most 5,000 (1,000 where the limit cannot be read), so streams never take the descriptors beats need.
   */
  maxStreams?: number;
}

export interface PresenceRouter extends Router {
  readonly streams: StreamHub;
  readonly listener: ChangeListener;
  readonly availability: DatabaseAvailability;
  readonly metrics: PresenceMetrics;
  /** Ends the live streams and the LISTEN connection (the pool stays the host's). */
  close(): Promise<void>;
}

const heartbeatBody = z.object({
  sessionId: tabIdSchema.optional(),
  activity: z.enum(ACTIVITIES, { error: `activity must be one of ${ACTIVITIES.join(', ')}` }).default('active'),
});
const leaveBody = z.object({ sessionId: tabIdSchema });
const statusBody = z.object({
  status: z.enum(STATUSES, { error: `status must be one of ${STATUSES.join(', ')}` }),
  reason: reasonIdSchema.optional(),
  until: pgText().pipe(z.iso.datetime({ offset: true })).optional(),
}) satisfies z.ZodType<StatusRequest>;
const historyParams = z.object({ id: agentIdSchema });
const historyQuery = z.object({
  from: pgText().pipe(z.iso.datetime({ offset: true })).optional(),
  to: pgText().pipe(z.iso.datetime({ offset: true })).optional(),
  cursor: historyCursorSchema.optional(),
  limit: historyLimitSchema.optional(),
});
const dayQuery = z.object({ date: daySchema.optional() });
const statusSchema = z.enum(STATUSES, { error: `status must be one of ${STATUSES.join(', ')}` });
const labelSchema = pgText().trim().min(1).max(MAX_REASON_LABEL_LENGTH);
const durationSchema = z.number().int().min(60).max(MAX_UNTIL_S);
const newReasonBody = z.strictObject({
  status: statusSchema,
  label: labelSchema,
  defaultDurationS: durationSchema.nullable().optional(),
}) satisfies z.ZodType<NewReasonRequest>;
const reasonUpdateBody = z.strictObject({
  label: labelSchema.optional(),
  position: z.number().int().min(0).max(1000).optional(),
  defaultDurationS: durationSchema.nullable().optional(),
  retired: z.boolean().optional(),
}) satisfies z.ZodType<ReasonUpdate>;
const reasonParams = z.object({ id: reasonIdSchema });

export function presenceRouter(options: PresenceRouterOptions): PresenceRouter {
  const logger = options.logger ?? pino({ level: 'info' });
  const paths = { ...ROUTES, ...options.paths };
  const availability = options.availability ?? new DatabaseAvailability(logger);
  const db = new Database(options.pool, availability);
  const metrics = createPresenceMetrics(options.registry ?? new client.Registry());
  const listener = new ChangeListener(options.pool, logger);
  const streams = new StreamHub(db, listener, metrics, logger, options.streamKeepAliveMs ?? 15_000, {
    perSignIn: limitOption('maxStreamsPerSignIn', options.maxStreamsPerSignIn, 16),
    perTenant: limitOption('maxStreamsPerTenant', options.maxStreamsPerTenant, 1_000),
    perProcess: limitOption('maxStreams', options.maxStreams, defaultMaxStreams()),
  });
  const beats = new Batcher<Beat, BeatResult>((batch) => heartbeats(db, batch));
  const summaries = new SummaryFeed(db, streams, listener, logger);

  const callers = new WeakMap<Request, Caller>();
  /** 401 unless `identify` knows the caller; the caller is then `callerOf(req)`. */
  const identified: RequestHandler = async (req, _res, next) => {
    const identity = await options.identify(req);
    if (!identity) throw unauthenticated();
    callers.set(req, toCaller(identity));
    next();
  };
  const callerOf = (req: Request): Caller => callers.get(req)!;
  const agentOf = (req: Request): Caller & { agentId: string } => {
    const caller = callerOf(req);
    if (caller.agentId === null) throw new HttpError(403, 'not_an_agent', 'the caller is not an agent and has no status');
    return caller as Caller & { agentId: string };
  };
  /** The agent as GET agents shows it now (after a choice of status). */
  const agentNow = async (tenantId: string, agentId: string) => {
    const agent = await agentOfTenant(db, tenantId, agentId);
    if (!agent) throw new HttpError(404, 'not_found', `no agent ${agentId} in this tenant`);
    return agent;
  };
  /** 403 unless the caller may manage the team (`identify` said canManage). */
  const managerOf = (req: Request): Caller => {
    const caller = callerOf(req);
    if (!caller.canManage) throw new HttpError(403, 'forbidden', 'only a manager of the team may do this');
    return caller;
  };

  const router = express.Router() as PresenceRouter;
  const json = express.json({ limit: '16kb' });

  /** The beat of a request: `identify`, then presence.heartbeats (batched); or the host's `beat` in one step. */
  const identifyThenBeat: IdentifiedBeat = async (req, { tabId, activity }) => {
    const identity = await options.identify(req);
    if (!identity) return { outcome: 'unauthenticated' };
    const caller = toCaller(identity);
    if (caller.agentId === null) return { outcome: 'not_agent' };
    const result = await beats.run({
      tenantId: caller.tenantId,
      agentId: caller.agentId,
      tabId: tabId ?? unnamedTab(caller.signIn),
      activity,
      signIn: caller.signIn,
    });
    return { outcome: 'beat', result };
  };
  const beat = options.beat ?? identifyThenBeat;

  const unauthenticatedBeat = () => {
    metrics.heartbeats.inc({ outcome: 'unauthenticated' });
    return unauthenticated();
  };

  router.post(paths.heartbeat, originCheck, json, async (req, res) => {
    const stopTimer = metrics.heartbeatSeconds.startTimer();
    try {
      let body: z.infer<typeof heartbeatBody>;
      try {
        // The original design's hook posts no body at all: such a beat is one unnamed tab of its sign-in.
        body = parseInput(heartbeatBody, req.body ?? {});
      } catch (error) {
        // A caller who is not signed in gets its 401 before any word on its body, as on every route.
        if (!(await options.identify(req))) throw unauthenticatedBeat();
        throw error;
      }
      const outcome: BeatOutcome = await beat(req, { tabId: body.sessionId ?? null, activity: body.activity });
      if (outcome.outcome === 'unauthenticated') throw unauthenticatedBeat();
      metrics.heartbeats.inc({ outcome: outcome.outcome });
      res.json(
        (outcome.outcome === 'not_agent'
          ? { status: null, lastSeen: null, intervalMs: null }
          : {
              status: outcome.result.status,
              lastSeen: outcome.result.lastSeen.toISOString(),
              intervalMs: outcome.result.heartbeatIntervalS * 1000,
            }) satisfies HeartbeatReply,
      );
    } catch (error) {
      if (!(error instanceof HttpError && error.status === 401)) metrics.heartbeats.inc({ outcome: 'error' });
      throw error;
    } finally {
      stopTimer();
    }
  });
  // A beacon carries a text/plain (or JSON) body and the cookie; the Origin check refuses other sites.
  router.post(paths.leave, originCheck, express.text({ type: 'text/plain', limit: '4kb' }), json, identified, async (req, res) => {
    const { sessionId } = parseInput(leaveBody, parseTextBody(req.body));
    const caller = callerOf(req);
    if (caller.agentId !== null) await endTab(db, caller.tenantId, caller.agentId, sessionId);
    res.status(204).end();
  });

  router.put(paths.status, originCheck, json, identified, async (req, res) => {
    const { tenantId, agentId, actor } = agentOf(req);
    const { status, reason, until } = parseInput(statusBody, req.body);
    const effective = await setStatus(db, tenantId, agentId, { status, reason: reason ?? null, until: until ?? null, actor });
    res.json({ status: effective, agent: await agentNow(tenantId, agentId) } satisfies StatusReply);
  });

  // After PUT status: the standalone server's '/agents/me/status' is registered first, so "me" is never an id.
  router.put(paths.agentStatus, originCheck, json, identified, async (req, res) => {
    const { tenantId, actor } = managerOf(req);
    const { id } = parseInput(historyParams, req.params);
    const { status, reason, until } = parseInput(statusBody, req.body);
    const effective = await setStatus(db, tenantId, id, { status, reason: reason ?? null, until: until ?? null, actor }, 'manager');
    res.json({ status: effective, agent: await agentNow(tenantId, id) } satisfies StatusReply);
  });

  router.get(paths.agents, identified, async (req, res) => {
    res.json({ agents: (await agentsOfTenant(db, callerOf(req).tenantId)).agents } satisfies AgentsReply);
  });

  router.get(paths.stream, identified, async (req, res) => {
    await streams.open(res, callerOf(req));
  });

  router.get(paths.history, identified, async (req, res) => {
    const { id } = parseInput(historyParams, req.params);
    const { from, to, cursor, limit } = parseInput(historyQuery, req.query);
    const history = await agentHistory(db, callerOf(req).tenantId, id, {
      from: from ? new Date(from) : null,
      to: to ? new Date(to) : null,
      cursor: cursor ?? null,
      limit: limit ?? null,
    });
    res.json({ agentId: id, ...history } satisfies History);
  });

  router.get(paths.agentDay, identified, async (req, res) => {
    const { id } = parseInput(historyParams, req.params);
    const { date } = parseInput(dayQuery, req.query);
    res.json((await agentDay(db, callerOf(req).tenantId, id, date ?? null)) satisfies AgentDay);
  });

  router.get(paths.summary, identified, async (req, res) => {
    const { tenantId } = callerOf(req);
    res.json((await tenantSummaries(db, [tenantId])).get(tenantId)! satisfies Summary);
  });

  router.get(paths.reasons, identified, async (req, res) => {
    res.json({ reasons: await reasonsOfTenant(db, callerOf(req).tenantId) } satisfies ReasonsReply);
  });

  router.post(paths.reasons, originCheck, json, identified, async (req, res) => {
    const { tenantId } = managerOf(req);
    const reason = parseInput(newReasonBody, req.body);
    res.status(201).json((await addReason(db, tenantId, reason)) satisfies TenantReason);
  });

  router.patch(paths.reason, originCheck, json, identified, async (req, res) => {
    const { tenantId } = managerOf(req);
    const { id } = parseInput(reasonParams, req.params);
    const update = parseInput(reasonUpdateBody, req.body);
    res.json((await updateReason(db, tenantId, id, update)) satisfies TenantReason);
  });

  router.use(errorHandler(logger, availability));

  return Object.assign(router, {
    streams,
    listener,
    availability,
    metrics,
    async close() {
      summaries.close();
      streams.close();
      await listener.close();
    },
  });
}

function limitOption(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < 1) throw new TypeError(`presenceRouter: ${name} must be a positive integer, got ${value}`);
  return value;
}

/** The tab of a beat that names none: one per sign-in (or per agent without one), within the 200-character limit. */
function unnamedTab(signIn: string | null): string {
  if (signIn === null) return 'unnamed';
  const id = `unnamed:${signIn}`;
  return id.length <= 200 ? id : `unnamed:${createHash('sha256').update(signIn).digest('hex')}`;
}

function parseTextBody(body: unknown): unknown {
  if (typeof body !== 'string') return body;
  try {
    return JSON.parse(body);
  } catch {
    throw new HttpError(400, 'malformed_json', 'the request body is not valid JSON');
  }
}
