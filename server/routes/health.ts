// GET /healthz (200 only while the database answers) and GET /metrics (Prometheus).
import type { Express } from 'express';
import type { AppContext } from '../context.ts';
import { databaseAnswers } from '../db/health.ts';

export function installHealth(app: Express, { db }: AppContext): void {
  app.get('/healthz', async (_req, res) => {
    if (await databaseAnswers(db)) res.json({ status: 'ok' });
    else res.status(503).json({ error: 'the database does not answer', code: 'unavailable' });
  });
}

export function installMetrics(app: Express, { metrics }: AppContext): void {
  app.get('/metrics', async (_req, res) => {
    res.type(metrics.registry.contentType).send(await metrics.registry.metrics());
  });
}
