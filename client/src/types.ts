// The shapes the server's HTTP API returns (see server/routes). Status values are decided by the database.

export type AgentStatus = 'available' | 'away' | 'dnd' | 'offline';
export type Activity = 'active' | 'idle';

export interface Me {
  user: { id: string; email: string; name: string; role: string };
  tenant: { id: string; name: string };
  agent: { id: string; status: AgentStatus; chosenStatus: AgentStatus } | null;
  settings: { heartbeatIntervalMs: number; offlineAfterMs: number; awayAfterMs: number };
}

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

export interface StatusChange {
  agentId: string;
  from: AgentStatus;
  to: AgentStatus;
  reason: string;
  at: string;
}

export interface HeartbeatReply {
  status: AgentStatus | null;
  lastSeen?: string;
  intervalMs?: number;
}

export interface History {
  agentId: string;
  from: string;
  to: string;
  statusAtStart: AgentStatus;
  events: Array<{ from: AgentStatus; to: AgentStatus; reason: string; at: string }>;
}

export const statusLabels: Record<AgentStatus, string> = {
  available: 'Available',
  away: 'Away',
  dnd: 'Do Not Disturb',
  offline: 'Offline',
};
