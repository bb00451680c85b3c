// agent-presence/server: presence for a platform's own Express app and worker.
//
//   import { presenceRouter, startPresenceWorker } from 'agent-presence/server';
//   app.use('/api/presence', requireAuth, presenceRouter({
//     pool,                                   // logged in as a member of presence_app
//     identify: (req) => req.user && { tenantId: req.user.tenantId, agentId: req.user.agentId, signIn: req.sessionID },
//   }));
//   await startPresenceWorker({ connectionString: process.env.DATABASE_URL });   // the owner's URL
export { presenceRouter } from './router.ts';
export type { PresenceRouter, PresenceRouterOptions } from './router.ts';
export type { BeatOutcome, Identify, IdentifiedBeat, Identity } from './identity.ts';
export type { BeatResult } from './sql/heartbeats.ts';
export { startPresenceWorker, presenceTaskList, SWEEP_CRONTAB } from './worker.ts';
export type { PresenceWorker, PresenceWorkerOptions } from './worker.ts';
export { isUnavailable } from '../database/availability.ts';
export { HttpError } from '../http/http-error.ts';
// The HTTP contract: routes, request and answer types, the error shape and codes (shared with agent-presence/client).
export * from '../http/contract.ts';
