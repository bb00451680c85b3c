// GET /healthz (200 only while the database answers, within 1.5 s even when it is frozen) and GET /metrics
// (Prometheus; it answers during an outage too, with the last figures the database gave).
import type { Express } from 'express';
import client from 'prom-client';
import type { Database } from './database/handle.ts';
import { sweepRuns } from './presence/sql/sweep-runs.ts';

const HEALTH_TIMEOUT_MS = 1_500;
const METRICS_QUERY_TIMEOUT_MS = 1_000;

/**
 * A health check is a query like any other: on the request path's handle, its outcome goes to the availability
 * tracker, so an outage is logged (once) when only the load balancer is asking, and its end as soon as a check
 * succeeds.
 */
export function installHealth(app: Express, { database }: { database: Database }): void {
  app.get('/healthz', async (_req, res) => {
    const query = database.query('select 1').then(
      () => true,
      () => false,
    );
    if (await within(query, HEALTH_TIMEOUT_MS, false)) res.json({ status: 'ok' });
    else res.status(503).json({ error: 'the database does not answer', code: 'unavailable' });
  });
}

/** The process's registry: Node's default metrics, the presence router's, and the sweeps run (any scheduler). */
export function createRegistry(db: Database): client.Registry {
  const registry = new client.Registry();
  client.collectDefaultMetrics({ register: registry });
  new client.Gauge({
    name: 'presence_sweeps',
    help: 'Sweeps run so far, by whichever scheduler runs them (presence.sweep_runs()); kept while the database is away.',
    registers: [registry],
    async collect() {
      // A scrape during an outage must still answer (the process's own metrics matter most then): a database that
      // fails or does not answer within a second leaves the last value.
      const runs = await within(
        sweepRuns(db).catch(() => null),
        METRICS_QUERY_TIMEOUT_MS,
        null,
      );
      if (runs !== null) this.set(runs);
    },
  });
  return registry;
}

export function installMetrics(app: Express, { registry }: { registry: client.Registry }): void {
  app.get('/metrics', async (_req, res) => {
    res.type(registry.contentType).send(await registry.metrics());
  });
}

/** `work`'s value, or `otherwise` when it takes longer than `ms` (the work itself goes on, and settles later). */
async function within<T>(work: Promise<T>, ms: number, otherwise: T): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<T>((resolve) => {
    timer = setTimeout(() => resolve(otherwise), ms);
  });
  try {
    return await Promise.race([work, late]);
  } finally {
    clearTimeout(timer);
  }
}
