// The presence routes, as a browser calls them: where each one lives and a small fetch API over them. Every path is
// the router's route under `basePath` (where the platform mounted presenceRouter), unless `paths` names it outright.
// Requests carry the page's cookies (same origin); errors come back as {error, code} and are thrown as HttpError.
// The routes, the paths and the shapes are the server's own (server/http/contract.ts).
import {
  ROUTES,
  type AgentDay,
  type AgentsReply,
  type ApiError,
  type ErrorCode,
  type HeartbeatReply,
  type HeartbeatRequest,
  type History,
  type LeaveRequest,
  type NewReasonRequest,
  type PresencePaths,
  type PresenceRoute,
  type ReasonsReply,
  type ReasonUpdate,
  type StatusReply,
  type StatusRequest,
  type AgentStatus,
  type Summary,
  type TenantReason,
} from '../../../server/http/contract.ts';

export interface PresenceClientOptions {
  /** Where the platform mounted the presence router, e.g. '/api/presence'. Default '': the routes at the root. */
  basePath?: string;
  /** Paths for some or all routes, used as given (basePath is not prepended), e.g. { heartbeat: '/api/auth/heartbeat' }. */
  paths?: Partial<PresencePaths>;
  /** The fetch to call; default the page's own, looked up at call time. */
  fetch?: typeof fetch;
}

/** The router's routes, relative to where it is mounted. */
export const routerRoutes: Readonly<PresencePaths> = ROUTES;

export function resolvePaths(options: PresenceClientOptions = {}): PresencePaths {
  const base = (options.basePath ?? '').replace(/\/+$/, '');
  const resolved = {} as PresencePaths;
  for (const route of Object.keys(routerRoutes) as PresenceRoute[]) {
    resolved[route] = options.paths?.[route] ?? `${base}${routerRoutes[route]}`;
  }
  return resolved;
}

/** An answer that was not 2xx: its status, its code (undefined when the body was not the API's JSON) and message. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: ErrorCode | undefined,
    message: string,
    /** Seconds to wait before trying again, when the answer says (a refused sign-in: how long its lock lasts). */
    readonly retryAfterS?: number,
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

/** A JSON request: the answer's body (undefined for 204), or an HttpError naming the server's message and code. */
export async function requestJson<T>(
  method: string,
  path: string,
  options: { body?: unknown; signal?: AbortSignal | undefined; fetch?: typeof fetch | undefined } = {},
): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  const init: RequestInit = { method, credentials: 'same-origin', headers };
  if (options.body !== undefined) {
    init.body = JSON.stringify(options.body);
    headers['content-type'] = 'application/json';
  }
  if (options.signal) init.signal = options.signal;
  const res = await (options.fetch ?? fetch)(path, init);
  if (!res.ok) {
    let message = `${method} ${path} failed with HTTP ${res.status}`;
    let code: ErrorCode | undefined;
    let retryAfterS: number | undefined;
    try {
      const payload = (await res.json()) as Partial<ApiError> & { retryAfterS?: unknown };
      if (payload.error) message = payload.error;
      code = payload.code;
      if (typeof payload.retryAfterS === 'number') retryAfterS = payload.retryAfterS;
    } catch {
      // Not JSON (a proxy's error page, say): keep the generic message.
    }
    throw new HttpError(res.status, code, message, retryAfterS);
  }
  if (res.status === 204) return undefined as T;
  return (await res.json()) as T;
}

/** A route's path with its `:id` filled in. */
function withId(path: string, id: string): string {
  return path.replace(':id', encodeURIComponent(id));
}

export interface PresenceApi {
  readonly paths: Readonly<PresencePaths>;
  heartbeat(body: Required<HeartbeatRequest>, signal?: AbortSignal): Promise<HeartbeatReply>;
  /** The signed-in agent's own status, with a tenant reason's id and an end (ISO time) if wanted. */
  setStatus(status: AgentStatus, options?: Omit<StatusRequest, 'status'>): Promise<StatusReply>;
  /** Another agent's status, set by a manager (403 forbidden for anyone else). */
  setAgentStatus(agentId: string, request: StatusRequest): Promise<StatusReply>;
  agents(): Promise<AgentsReply>;
  /** The team in figures: agents per status and reason, free capacity, the queue. */
  summary(): Promise<Summary>;
  /** The tenant's reasons, retired ones included (flagged). */
  reasons(): Promise<ReasonsReply>;
  addReason(reason: NewReasonRequest): Promise<TenantReason>;
  updateReason(reasonId: string, update: ReasonUpdate): Promise<TenantReason>;
  /** One agent's day (YYYY-MM-DD) in the tenant's time zone; today there when no date is given. */
  agentDay(agentId: string, date?: string): Promise<AgentDay>;
  /** The whole of [from, to) (at most 31 days), every page of it. */
  history(agentId: string, from: Date, to: Date): Promise<History>;
  /** Ends this tab's presence as the page goes away; a beacon outlives the page where a fetch would be cancelled. */
  leave(tabId: string): boolean;
}

export function createPresenceApi(options: PresenceClientOptions = {}): PresenceApi {
  const paths = resolvePaths(options);
  const fetchFn = options.fetch;
  return {
    paths,
    heartbeat: (body, signal) =>
      requestJson<HeartbeatReply>('POST', paths.heartbeat, { body, signal, fetch: fetchFn }),
    setStatus: (status, options = {}) =>
      requestJson<StatusReply>('PUT', paths.status, { body: { status, ...options } satisfies StatusRequest, fetch: fetchFn }),
    setAgentStatus: (agentId, request) =>
      requestJson<StatusReply>('PUT', withId(paths.agentStatus, agentId), { body: request, fetch: fetchFn }),
    agents: () => requestJson<AgentsReply>('GET', paths.agents, { fetch: fetchFn }),
    summary: () => requestJson<Summary>('GET', paths.summary, { fetch: fetchFn }),
    reasons: () => requestJson<ReasonsReply>('GET', paths.reasons, { fetch: fetchFn }),
    addReason: (reason) => requestJson<TenantReason>('POST', paths.reasons, { body: reason, fetch: fetchFn }),
    updateReason: (reasonId, update) =>
      requestJson<TenantReason>('PATCH', withId(paths.reason, reasonId), { body: update, fetch: fetchFn }),
    agentDay: (agentId, date) =>
      requestJson<AgentDay>(
        'GET',
        `${withId(paths.agentDay, agentId)}${date === undefined ? '' : `?date=${encodeURIComponent(date)}`}`,
        { fetch: fetchFn },
      ),
    // The server answers a page at a time; this follows nextCursor to the end of the range (a day of one agent is a
    // page or two: changes by hand are held to 20 a minute).
    history: async (agentId, from, to) => {
      const path = withId(paths.history, agentId);
      const range = `from=${encodeURIComponent(from.toISOString())}&to=${encodeURIComponent(to.toISOString())}`;
      const first = await requestJson<History>('GET', `${path}?${range}`, { fetch: fetchFn });
      const events = [...first.events];
      let cursor = first.nextCursor;
      while (cursor !== null) {
        const page = await requestJson<History>('GET', `${path}?${range}&cursor=${encodeURIComponent(cursor)}`, {
          fetch: fetchFn,
        });
        events.push(...page.events);
        cursor = page.nextCursor;
      }
      return { ...first, events, nextCursor: null };
    },
    leave(tabId) {
      if (typeof navigator.sendBeacon !== 'function') return false;
      return navigator.sendBeacon(paths.leave, JSON.stringify({ sessionId: tabId } satisfies LeaveRequest));
    },
  };
}
