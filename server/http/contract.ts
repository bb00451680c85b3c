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

/** Why a status changed (presence.status_events.reason). */
export const REASONS = ['heartbeat', 'timeout', 'left', 'logout', 'manual', 'idle', 'active', 'admin'] as const;
export type Reason = (typeof REASONS)[number];

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
}

/** A stream `status` event: one transition, as presence_private.apply_transitions recorded it in presence.status_events. */
export interface StatusChange {
  agentId: string;
  from: AgentStatus;
  to: AgentStatus;
  /** The agent's chosen status after the transition (the database's, never guessed by a client). */
  chosenStatus: AgentStatus;
  reason: Reason;
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
  events: Array<{ from: AgentStatus; to: AgentStatus; reason: Reason; at: string }>;
  /** null on the last page; otherwise ask again with the same from and to and `cursor` set to this. */
  nextCursor: string | null;
}

/** The presence routes. */
export type PresenceRoute = 'heartbeat' | 'leave' | 'status' | 'agents' | 'stream' | 'history';

/** One path per route; `history` holds `:id` where the agent's id goes. */
export type PresencePaths = Record<PresenceRoute, string>;

/** The presence routes relative to where the router is mounted. */
export const ROUTES: Readonly<PresencePaths> = {
  heartbeat: '/heartbeat',
  leave: '/leave',
  status: '/status',
  agents: '/agents',
  stream: '/stream',
  history: '/agents/:id/history',
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

/** PUT status: the agent's own choice; the answer is the effective status. */
export interface StatusRequest {
  status: AgentStatus;
}
export interface StatusReply {
  status: AgentStatus;
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
  settings: { heartbeatIntervalMs: number; offlineAfterMs: number; awayAfterMs: number };
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
  'not_found',
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
