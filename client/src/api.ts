// The dashboard's own calls: this project's sign-in (login, me, logout), and where the standalone server keeps the
// presence routes. Same origin, authenticated by the presence_session cookie; errors come back as {error, code}.
import { createPresenceApi, type AgentStatus, type PresencePaths } from './presence/index.ts';
import { requestJson } from './presence/api.ts';

/** GET /api/auth/me: the signed-in user, its tenant, its agent (null for a supervisor) and the tenant's timing. */
export interface Me {
  user: { id: string; email: string; name: string; role: string };
  tenant: { id: string; name: string };
  agent: { id: string; status: AgentStatus; chosenStatus: AgentStatus } | null;
  settings: { heartbeatIntervalMs: number; offlineAfterMs: number; awayAfterMs: number };
}

/** The standalone server mounts the presence routes at the paths it has always had. */
export const standalonePaths: PresencePaths = {
  heartbeat: '/api/auth/heartbeat',
  leave: '/api/auth/leave',
  status: '/api/agents/me/status',
  agents: '/api/agents',
  stream: '/api/agents/stream',
  history: '/api/agents/:id/history',
};

export const presence = createPresenceApi({ paths: standalonePaths });

export const api = {
  me: () => requestJson<Me>('GET', '/api/auth/me'),
  login: (email: string, password: string) => requestJson<Me>('POST', '/api/auth/login', { body: { email, password } }),
  logout: (sessionId?: string) => requestJson<void>('POST', '/api/auth/logout', { body: { sessionId } }),
};

