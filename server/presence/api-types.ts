// The presence HTTP API's shapes and the status list: one source for the router, the standalone server and the
// browser hooks (agent-presence/client). The database holds the same list in its check constraints; a test
// compares the two.

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

/** Every error answer: a message for people and a stable code for programs. */
export interface ApiError {
  error: string;
  code: string;
}
