// The HTTP API, same origin, authenticated by the presence_session cookie. Errors come back as {error, code}.
import type { AgentStatus, History, HeartbeatReply, Me, Activity } from './types.ts';

export class HttpError extends Error {
  readonly status: number;
  readonly code: string | undefined;

  constructor(status: number, message: string, code?: string) {
    super(message);
    this.name = 'HttpError';
    this.status = status;
    this.code = code;
  }
}

async function request<T>(method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<T> {
  const init: RequestInit = { method, credentials: 'same-origin', headers: { accept: 'application/json' } };
  if (body !== undefined) {
    init.body = JSON.stringify(body);
    init.headers = { accept: 'application/json', 'content-type': 'application/json' };
  }
  if (signal) init.signal = signal;
  const res = await fetch(path, init);
  if (!res.ok) {
    let message = `${method} ${path} failed with HTTP ${res.status}`;
    let code: string | undefined;
    try {
      const payload = (await res.json()) as { error?: string; code?: string };
      if (payload.error) message = payload.error;
      code = payload.code;
    } catch {
      // Not JSON (a proxy's error page, say): keep the generic message.
    }
    throw new HttpError(res.status, message, code);
  }
  if (res.status === 204) return undefined as T;
  return (await res.json()) as T;
}

export const api = {
  me: () => request<Me>('GET', '/api/auth/me'),
  login: (email: string, password: string) => request<Me>('POST', '/api/auth/login', { email, password }),
  logout: (sessionId?: string) => request<void>('POST', '/api/auth/logout', { sessionId }),
  heartbeat: (body: { sessionId: string; activity: Activity }, signal?: AbortSignal) =>
    request<HeartbeatReply>('POST', '/api/auth/heartbeat', body, signal),
  setStatus: (status: AgentStatus) => request<{ status: AgentStatus }>('PUT', '/api/agents/me/status', { status }),
  history: (agentId: string, from: Date, to: Date) =>
    request<History>(
      'GET',
      `/api/agents/${encodeURIComponent(agentId)}/history?from=${encodeURIComponent(from.toISOString())}&to=${encodeURIComponent(to.toISOString())}`,
    ),
};

/** Ends this tab's session as the page goes away; a beacon survives the page where a fetch would be cancelled. */
export function sendLeaveBeacon(sessionId: string): boolean {
  if (typeof navigator.sendBeacon !== 'function') return false;
  return navigator.sendBeacon('/api/auth/leave', JSON.stringify({ sessionId }));
}
