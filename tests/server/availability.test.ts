// Which availability tracker a 503 reaches: the one the error handler was given, whatever logger it shares.
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import express from 'express';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { presenceRouter, type PresenceRouter } from '../../server/presence/router.ts';
import { testPool } from '../helpers/db.ts';

const pool = testPool(4);
const logger = pino({ level: 'silent' });
/** identify as a platform's would fail with PostgreSQL down: the connection is refused. */
const refused = () => {
  throw Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
};
let first: PresenceRouter;
let second: PresenceRouter;
let host: Server;
let base: string;

beforeAll(async () => {
  first = presenceRouter({ pool, logger, identify: refused });
  second = presenceRouter({ pool, logger, identify: refused });
  await Promise.all([first.listener.ready(), second.listener.ready()]);
  const app = express();
  app.use('/first', first);
  host = app.listen(0, '127.0.0.1');
  await new Promise<void>((resolve) => host.once('listening', resolve));
  base = `http://127.0.0.1:${(host.address() as AddressInfo).port}`;
});

afterAll(async () => {
  host.closeAllConnections();
  await new Promise<void>((resolve) => host.close(() => resolve()));
  await Promise.all([first.close(), second.close()]);
  await pool.end();
});

describe('two routers on one logger', () => {
  it('a request that fails in identify for an unreachable database marks its own router unavailable, not the last one made', async () => {
    // Setup: both routers answer, and log to the same logger

    // Action
    const res = await fetch(`${base}/first/agents`);

    // Assertions
    expect(res.status).toBe(503);
    expect(first.availability.available).toBe(false);
    expect(second.availability.available).toBe(true);
  });
});
