// The HTTP contract, one source for the server (the presence router, the standalone server's sign-in) and the
// browser (agent-presence/client, the dashboard): the routes and their paths, what each request sends and each
// answer holds, and the error shape with its codes. The database holds the status list in its check constraints; a
// test compares the two.
//
// Words: a browser tab is a "tab" and a sign-in is a "sign-in". The wire keeps the field name `sessionId` for the
// tab's id, which platforms already send.

export const STATUSES = ['available', 'away', 'dnd', 'offline'] as const;
export type AgentStatus = (typeof STATUSES)[number];

export const ACTIVITIES = ['active', 'idle'] as const;
export type Activity = (typeof ACTIVITIES)[number];

/**
 * What caused a transition (presence.status_events.mechanism): a beat, a timeout, a tab closed, a sign-out, the
 * agent's own choice (manual), idle or active again, an operator's command (admin, e.g. `npx presence mark-offline`),
 * a manager's choice (supervisor), or the end of a chosen status's `until` (expiry). Not a tenant's reason.
 */
export const MECHANISMS = [
  'heartbeat',
  'timeout',
  'left',
  'logout',
  'manual',
  'idle',
  'active',
  'admin',
  'supervisor',
  'expiry',
] as const;
export type Mechanism = (typeof MECHANISMS)[number];

/** How a page says a mechanism: "Away · Meeting, by a supervisor". */
export const mechanismLabels: Record<Mechanism, string> = {
  heartbeat: 'came online',
  timeout: 'timed out',
  left: 'tab closed',
  logout: 'signed out',
  manual: 'by the agent',
  idle: 'idle',
  active: 'active again',
  admin: 'by an operator',
  supervisor: 'by a supervisor',
  expiry: 'ended',
};

export const statusLabels: Record<AgentStatus, string> = {
  available: 'Available',
  away: 'Away',
  dnd: 'Do Not Disturb',
  offline: 'Offline',
};

/** GET /agents, and each agent of a stream `snapshot`. Ids are the platform's own keys, as strings. */
export interface Agent {
  id: string;
  name: string;
  email: string;
  /** The effective status, derived by the database from the chosen status and the last beat. */
  status: AgentStatus;
  chosenStatus: AgentStatus;
  lastSeen: string | null;
  /** Seconds between the last beat and the moment the server built the message, by the database clock. */
  secondsSinceSeen: number | null;
  activeChats: number;
  maxChats: number;
  /** The tenant reason of the chosen status, if one was named. */
  reason: ReasonRef | null;
  /** What caused the last transition. */
  mechanism: Mechanism | null;
  /** When the effective status began. */
  since: string | null;
  /** When the chosen status ends (then the agent reads available again, or offline if silent). */
  until: string | null;
  /** Who chose the current chosen status (the agent too: a page says "set by X" only when X is not the agent). */
  setBy: Actor | null;
}

/** A person as the platform knows them (its own user id), with a name when `identify` gave one. */
export interface Actor {
  id: string;
  name: string | null;
}

/** A tenant reason as events and agents name it. */
export interface ReasonRef {
  id: string;
  label: string;
}

/** A reason a tenant defined for one status (away: Lunch, Meeting; dnd: Focus; offline: End of shift). */
export interface TenantReason {
  id: string;
  status: AgentStatus;
  label: string;
  /** Order among the reasons of its status, lowest first. */
  position: number;
  /** Seconds a status with this reason lasts when the request names no `until`; null: until changed. */
  defaultDurationS: number | null;
  /** Retired reasons stay in history and cannot be chosen. */
  retired: boolean;
}

/** At most this many reasons per tenant, live and retired together. */
export const MAX_REASONS_PER_TENANT = 50;
/** A reason's label: 1 to this many characters, unique among the tenant's live reasons of its status. */
export const MAX_REASON_LABEL_LENGTH = 40;
/** A chosen status ends at most this far ahead. */
export const MAX_UNTIL_S = 7 * 24 * 3600;

/** GET reasons: the tenant's reasons, retired included (flagged), by status and position. */
export interface ReasonsReply {
  reasons: TenantReason[];
}

/** POST reasons (managers only): 201 TenantReason. */
export interface NewReasonRequest {
  status: AgentStatus;
  label: string;
  defaultDurationS?: number | null;
}

/** PATCH reasons/:id (managers only): TenantReason. */
export interface ReasonUpdate {
  label?: string;
  position?: number;
  defaultDurationS?: number | null;
  retired?: boolean;
}

/** One transition of an agent, as history and the agent's day list it. */
export interface HistoryEvent {
  from: AgentStatus;
  to: AgentStatus;
  mechanism: Mechanism;
  reason: ReasonRef | null;
  /** Who did it, where a person did (the agent, a supervisor); null for timeouts, expiries, operators. */
  actor: Actor | null;
  at: string;
}

/** A stream `status` event: one transition, as presence_private.apply_transitions recorded it in presence.status_events. */
export interface StatusChange {
  agentId: string;
  from: AgentStatus;
  to: AgentStatus;
  /** The agent's chosen status after the transition (the database's, never guessed by a client). */
  chosenStatus: AgentStatus;
  mechanism: Mechanism;
  reason: ReasonRef | null;
  actor: Actor | null;
  /** When the chosen status ends, if it does. */
  until: string | null;
  at: string;
}

/** POST /heartbeat. status null: the caller is signed in but not an agent (a supervisor); nothing was written. */
export interface HeartbeatReply {
  status: AgentStatus | null;
  lastSeen: string | null;
  intervalMs: number | null;
}

/** GET /agents/:id/history?from&to&cursor&limit: one page (default 500, at most 2000 events) of at most 31 days. */
export interface History {
  agentId: string;
  from: string;
  to: string;
  statusAtStart: AgentStatus;
  /** One page of the transitions in [from, to), in time order. */
  events: HistoryEvent[];
  /** null on the last page; otherwise ask again with the same from and to and `cursor` set to this. */
  nextCursor: string | null;
}

/** GET agents/:id/day?date=YYYY-MM-DD: one agent's day in the tenant's time zone (default today there). */
export interface AgentDay {
  agentId: string;
  /** YYYY-MM-DD. */
  date: string;
  /** The tenant's time zone (IANA name). */
  timeZone: string;
  /** The day's start and end (exclusive) as instants. */
  from: string;
  to: string;
  statusAtStart: AgentStatus;
  /** The day's transitions in time order, at most 2,000. */
  events: HistoryEvent[];
  /** Seconds in each status and reason over the day (up to now for today). */
  totals: Array<{ status: AgentStatus; reason: ReasonRef | null; seconds: number }>;
}

/** GET summary, and the stream's `summary` event (sent when it changes, at most about once a second). */
export interface Summary {
  at: string;
  /** Agents per effective status. */
  statuses: Record<AgentStatus, number>;
  /** Agents per tenant reason of their chosen status (reasons with agents only). */
  reasons: Array<{ id: string; label: string; status: AgentStatus; count: number }>;
  /** The sum of max_chats - active_chats among available agents. */
  freeCapacity: number;
  queuedChats: number;
  /** Seconds the oldest queued chat has waited; null when none waits. */
  oldestQueuedWaitS: number | null;
}

/** The presence routes. */
export type PresenceRoute =
  | 'heartbeat'
  | 'leave'
  | 'status'
  | 'agents'
  | 'stream'
  | 'history'
  | 'agentStatus'
  | 'summary'
  | 'reasons'
  | 'reason'
  | 'agentDay';

/** One path per route; `history`, `agentStatus`, `agentDay` and `reason` hold `:id` where the id goes. */
export type PresencePaths = Record<PresenceRoute, string>;

/** The presence routes relative to where the router is mounted. */
export const ROUTES: Readonly<PresencePaths> = {
  heartbeat: '/heartbeat',
  leave: '/leave',
  status: '/status',
  agents: '/agents',
  stream: '/stream',
  history: '/agents/:id/history',
  agentStatus: '/agents/:id/status',
  summary: '/summary',
  reasons: '/reasons',
  reason: '/reasons/:id',
  agentDay: '/agents/:id/day',
};

/** Where the standalone server (npm start) mounts the presence router: the original design's hook posts to the first. */
export const STANDALONE_MOUNT = '/api';

/** The standalone server's presence paths, relative to STANDALONE_MOUNT: the paths it has always had. */
export const STANDALONE_ROUTES: Readonly<PresencePaths> = {
  heartbeat: '/auth/heartbeat',
  leave: '/auth/leave',
  status: '/agents/me/status',
  agents: '/agents',
  stream: '/agents/stream',
  history: '/agents/:id/history',
  // Registered after `status` ('/agents/me/status'), so "me" is never taken for an agent's id.
  agentStatus: '/agents/:id/status',
  summary: '/summary',
  reasons: '/reasons',
  reason: '/reasons/:id',
  agentDay: '/agents/:id/day',
};

/** The standalone server's presence paths as a browser calls them. */
export const STANDALONE_PATHS: Readonly<PresencePaths> = Object.fromEntries(
  Object.entries(STANDALONE_ROUTES).map(([route, path]) => [route, `${STANDALONE_MOUNT}${path}`]),
) as Record<PresenceRoute, string>;

/** The standalone server's own sign-in. */
export const AUTH_PATHS = {
  login: '/api/auth/login',
  me: '/api/auth/me',
  logout: '/api/auth/logout',
} as const;

/** POST heartbeat. `sessionId` is the tab's id (the wire's name for it); none: one unnamed tab of the sign-in. */
export interface HeartbeatRequest {
  sessionId?: string;
  activity?: Activity;
}

/** POST leave: the tab's goodbye (a beacon), `sessionId` being the tab's id. */
export interface LeaveRequest {
  sessionId: string;
}

/**
 * PUT status (the agent's own choice, mechanism manual) and PUT agents/:id/status (a manager's, mechanism
 * supervisor). `reason`: a TenantReason id of that status, live. `until`: an ISO time after now and at most
 * MAX_UNTIL_S ahead; without it the reason's defaultDurationS (if any) sets it.
 */
export interface StatusRequest {
  status: AgentStatus;
  reason?: string;
  until?: string;
}
/** The effective status, and the agent as GET agents would show it now. */
export interface StatusReply {
  status: AgentStatus;
  agent: Agent;
}

/** GET agents. */
export interface AgentsReply {
  agents: Agent[];
}

/** POST /api/auth/login. */
export interface LoginRequest {
  email: string;
  password: string;
}

/** POST /api/auth/logout: ends the sign-in and all its tabs; `sessionId` (a tab's id) is accepted and not needed. */
export interface LogoutRequest {
  sessionId?: string;
}

export const ROLES = ['support_staff', 'client_admin', 'supervisor'] as const;
export type Role = (typeof ROLES)[number];

/** GET /api/auth/me and the answer of a sign-in: the user, its tenant, its agent (null for a supervisor), the timing. */
export interface Me {
  user: { id: string; email: string; name: string; role: Role };
  tenant: { id: string; name: string };
  agent: { id: string; status: AgentStatus; chosenStatus: AgentStatus } | null;
  settings: { heartbeatIntervalMs: number; offlineAfterMs: number; awayAfterMs: number; timeZone: string };
  /** May manage the team: set others' statuses, edit reasons (standalone: roles client_admin and supervisor). */
  canManage: boolean;
}

/** Every `code` an error answer can carry (docs/http-api.md says when each is sent). */
export const ERROR_CODES = [
  'invalid_input',
  'malformed_json',
  'body_too_large',
  'bad_request',
  'unauthenticated',
  'invalid_credentials',
  'forbidden_origin',
  'not_an_agent',
  'forbidden',
  'not_found',
  'conflict',
  'rate_limited',
  'too_many_streams',
  'sign_in_busy',
  'server_busy',
  'unavailable',
  'busy',
  'internal',
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

/** Every error answer: a message for people and a stable code for programs. */
export interface ApiError {
  error: string;
  code: ErrorCode;
}

/** A refused sign-in also says in the body how long its lock lasts (a page may not read Retry-After). */
export interface RateLimitedSignIn extends ApiError {
  code: 'rate_limited';
  retryAfterS: number;
}
