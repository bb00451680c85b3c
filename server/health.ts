// GET /healthz (200 only while the database answers, within 1.5 s even when it is frozen) and GET /metrics
// (Prometheus).
import type { Express } from 'express';
import type pg from 'pg';
import client from 'prom-client';

const HEALTH_TIMEOUT_MS = 1_500;

export function installHealth(app: Express, { db }: { db: pg.Pool }): void {
  app.get('/healthz', async (_req, res) => {
    let timer: NodeJS.Timeout | undefined;
    const answered = await Promise.race([
      db.query('select 1').then(
        () => true,
        () => false,
      ),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(false), HEALTH_TIMEOUT_MS);
      }),
    ]);
    clearTimeout(timer);
    if (answered) res.json({ status: 'ok' });
    else res.status(503).json({ error: 'the database does not answer', code: 'unavailable' });
  });
}

/** The process's registry: Node's default metrics, the presence router's, and the sweeps run (any scheduler). */
export function createRegistry(db: pg.Pool): client.Registry {
  const registry = new client.Registry();
  client.collectDefaultMetrics({ register: registry });
  new client.Gauge({
    name: 'presence_sweeps',
    help: 'Sweeps run so far, by whichever scheduler runs them (presence.sweep_runs()).',
    registers: [registry],
    async collect() {
      const { rows } = await db.query<{ runs: string }>('select presence.sweep_runs() as runs');
      this.set(Number(rows[0]!.runs));
    },
  });
  return registry;
}

export function installMetrics(app: Express, { registry }: { registry: client.Registry }): void {
  app.get('/metrics', async (_req, res) => {
    res.type(registry.contentType).send(await registry.metrics());
  });
}
