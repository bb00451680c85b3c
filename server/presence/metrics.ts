// Prometheus metrics of the presence routes, on the registry the host gives (or one of their own). Every label takes
// its values from a fixed set, so nothing a client or another database role sends can add a series.
import client from 'prom-client';
import { MECHANISMS } from '../http/contract.ts';

export interface PresenceMetrics {
  heartbeats: client.Counter<'outcome'>;
  heartbeatSeconds: client.Histogram;
  openStreams: client.Gauge;
  streamsRefused: client.Counter<'limit'>;
  statusEvents: client.Counter<'reason'>;
  agentsSwept: client.Counter;
}

/** Every label value each counter can take, each series made at 0 from the start, so the set never changes. */
export const HEARTBEAT_OUTCOMES = ['beat', 'not_agent', 'unauthenticated', 'error'] as const;
export const STATUS_REASONS = [...MECHANISMS, 'other'] as const;
export const STREAM_LIMITS = ['sign_in', 'tenant', 'process'] as const;

export function createPresenceMetrics(registry: client.Registry): PresenceMetrics {
  const metrics = makeMetrics(registry);
  for (const outcome of HEARTBEAT_OUTCOMES) metrics.heartbeats.inc({ outcome }, 0);
  for (const reason of STATUS_REASONS) metrics.statusEvents.inc({ reason }, 0);
  for (const limit of STREAM_LIMITS) metrics.streamsRefused.inc({ limit }, 0);
  return metrics;
}

function makeMetrics(registry: client.Registry): PresenceMetrics {
  return {
    heartbeats: new client.Counter({
      name: 'presence_heartbeats_total',
      help: 'Heartbeat requests answered, by outcome (beat, not_agent, unauthenticated, error).',
      labelNames: ['outcome'],
      registers: [registry],
    }),
    heartbeatSeconds: new client.Histogram({
      name: 'presence_heartbeat_duration_seconds',
      help: 'Time to answer a heartbeat request, identify and database call included.',
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
      registers: [registry],
    }),
    agentsSwept: new client.Counter({
      name: 'presence_agents_swept_total',
      help: 'Agents taken offline by a timeout, counted from presence.status_events (every tenant) since this process started.',
      registers: [registry],
    }),
    statusEvents: new client.Counter({
      name: 'presence_status_changes_total',
      help: 'Status transitions in presence.status_events (every tenant) since this process started, by reason (the known reasons, else other).',
      labelNames: ['reason'],
      registers: [registry],
    }),
    openStreams: new client.Gauge({
      name: 'presence_open_streams',
      help: 'Open live streams (GET /stream).',
      registers: [registry],
    }),
    streamsRefused: new client.Counter({
      name: 'presence_streams_refused_total',
      help: 'Live streams refused at a limit: sign_in (429), tenant (429) or process (503).',
      labelNames: ['limit'],
      registers: [registry],
    }),
  };
}
