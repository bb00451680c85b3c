// Prometheus metrics of one server process (its own registry, so several apps can live in one test process).
import client from 'prom-client';

export interface Metrics {
  registry: client.Registry;
  heartbeats: client.Counter<'outcome'>;
  heartbeatSeconds: client.Histogram;
  agentsSwept: client.Counter;
  sweepsInProcess: client.Counter;
  openStreams: client.Gauge;
  statusEvents: client.Counter<'reason'>;
}

/** `sweepRuns` reads how many sweeps pg_cron ran (null where graphile-worker sweeps in this process). */
export function createMetrics(sweepRuns: () => Promise<number | null>): Metrics {
  const registry = new client.Registry();
  client.collectDefaultMetrics({ register: registry });
  const sweepsInProcess = new client.Counter({
    name: 'presence_worker_sweeps_total',
    help: 'Sweeps run by this process from the graphile-worker schedule (where pg_cron is unavailable).',
    registers: [registry],
  });
  new client.Gauge({
    name: 'presence_sweeps',
    help: 'Sweeps run so far: pg_cron job presence-sweep runs that succeeded, or this process\'s worker sweeps.',
    registers: [registry],
    async collect() {
      const fromCron = await sweepRuns().catch(() => null);
      this.set(fromCron ?? (await sweepsInProcess.get()).values[0]?.value ?? 0);
    },
  });
  return {
    registry,
    sweepsInProcess,
    heartbeats: new client.Counter({
      name: 'presence_heartbeats_total',
      help: 'Heartbeat requests answered, by outcome (beat, not_agent, unauthenticated, error).',
      labelNames: ['outcome'],
      registers: [registry],
    }),
    heartbeatSeconds: new client.Histogram({
      name: 'presence_heartbeat_duration_seconds',
      help: 'Time to answer a heartbeat request, database call included.',
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
      registers: [registry],
    }),
    agentsSwept: new client.Counter({
      name: 'presence_agents_swept_total',
      help: 'Agents taken offline by a sweep (transitions with reason timeout), as seen on channel presence_status.',
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
      help: 'Open GET /api/agents/stream connections.',
      registers: [registry],
    }),
  };
}
