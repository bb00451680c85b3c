// Prometheus metrics of the presence routes, on the registry the host gives (or one of their own).
import client from 'prom-client';

export interface PresenceMetrics {
  heartbeats: client.Counter<'outcome'>;
  heartbeatSeconds: client.Histogram;
  openStreams: client.Gauge;
  statusEvents: client.Counter<'reason'>;
  agentsSwept: client.Counter;
}

export function createPresenceMetrics(registry: client.Registry): PresenceMetrics {
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
      help: 'Agents taken offline by a timeout, as seen on channel presence_status.',
      registers: [registry],
    }),
    statusEvents: new client.Counter({
      name: 'presence_status_changes_total',
      help: 'Status transitions seen on channel presence_status, by reason.',
      labelNames: ['reason'],
      registers: [registry],
    }),
    openStreams: new client.Gauge({
      name: 'presence_open_streams',
      help: 'Open live streams (GET /stream).',
      registers: [registry],
    }),
  };
}
