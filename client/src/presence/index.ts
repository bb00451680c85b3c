// agent-presence/client: presence for a platform's own React app. useHeartbeat keeps a signed-in agent's tab
// present; useAgentStream shows the team live. Both call the presence router wherever it is mounted (`basePath`,
// default '') or at the paths given route by route (`paths`), with the page's cookies, and know nothing of how the
// platform signs its users in.
//
//   useHeartbeat({ basePath: '/api/presence', enabled: user.isAgent, onUnauthorized: signOut });
//   const stream = useAgentStream({ basePath: '/api/presence' });
//   const { summary } = useSummary(stream, { basePath: '/api/presence', enabled: user.canManage });
export { useHeartbeat, backoffDelay, defaultIntervalMs, defaultAwayAfterMs } from './use-heartbeat.ts';
export type { HeartbeatOptions, HeartbeatState } from './use-heartbeat.ts';
export { useAgentStream, applyChange } from './use-agent-stream.ts';
export type { AgentStream, AgentStreamOptions, LiveAgent, LiveSummary } from './use-agent-stream.ts';
export { useSummary } from './use-summary.ts';
export type { SummaryOptions, SummaryState } from './use-summary.ts';
export { createPresenceApi, resolvePaths, routerRoutes, HttpError } from './api.ts';
export type { PresenceApi, PresenceClientOptions } from './api.ts';
export { createBeatTimer, createPageTimer } from './beat-timer.ts';
export type { BeatTimer, BeatTimerFactory } from './beat-timer.ts';
export { tabId } from './tab-id.ts';
// The HTTP contract, the server's own: routes, request and answer types, the error shape and codes.
export * from '../../../server/http/contract.ts';
