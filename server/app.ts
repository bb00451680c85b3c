// The standalone server (npm start), as a list of steps: this project's own sign-in in front of the same presence
// router a platform mounts behind its own (server/presence), health, metrics and the dashboard.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import express, { type Express, type RequestHandler } from 'express';
import { pinoHttp } from 'pino-http';
import { installAccounts } from './accounts/routes.ts';
import { installHealth, installMetrics } from './health.ts';
import { STANDALONE_MOUNT, STANDALONE_PATHS } from './http/contract.ts';
import { errorHandler } from './http/errors.ts';
import { HttpError } from './http/http-error.ts';
import type { Services } from './services.ts';

export function makeApp(services: Services): Express {
  const app = express();
  installSettings(app, services);
  installLogging(app, services);
  installHealth(app, services);
  installMetrics(app, services);
  installAccounts(app, {
    db: services.database,
    signIns: services.signIns,
    signedIn: services.signedIn,
    cookies: { secure: services.config.secureCookies, ttlS: services.config.sessionTtlS },
  });
  app.use(STANDALONE_MOUNT, services.presence);
  installClient(app, services);
  installNotFound(app);
  app.use(errorHandler(services.logger, services.availability));
  return app;
}

function installSettings(app: Express, { config }: Services): void {
  app.disable('x-powered-by');
  // No ETag on JSON answers: Express hashes every body it sends (SHA-1) for a validator that only a repeated GET of
  // an unchanged body could use, and a beat is a POST whose answer changes every time. The beat's Node CPU with the
  // database answered by constants, median of 4 alternated runs: 205-225 -> 199-211 µs per request (npm run bench's
  // figures: docs/benchmarks.md). Static files keep theirs (serve-static makes its own).
  app.set('etag', false);
  if (config.trustProxy !== undefined) {
    const hops = Number(config.trustProxy);
    app.set('trust proxy', Number.isInteger(hops) ? hops : config.trustProxy);
  }
}

/** Beats and scrapes are too many to log one by one (/metrics counts them): they skip the request logger entirely. */
const QUIET_PATHS = new Set([STANDALONE_PATHS.heartbeat, '/healthz', '/metrics']);

function installLogging(app: Express, { logger }: Services): void {
  const log = pinoHttp({
    logger,
    // A 503 is the database away: the outage is logged once when it starts and once when it ends
    // (server/database/availability.ts), not once per refused request with a stack each.
    customLogLevel: (_req, res, error) => (res.statusCode === 503 ? 'silent' : error || res.statusCode >= 500 ? 'error' : 'info'),
    // Never log cookies: a session token in a log file is a session anyone can use.
    serializers: {
      req: (req: { id: unknown; method: string; url: string }) => ({ id: req.id, method: req.method, url: req.url }),
      res: (res: { statusCode: number }) => ({ statusCode: res.statusCode }),
    },
  });
  const quiet: RequestHandler = (req, res, next) => (QUIET_PATHS.has(req.path) ? next() : log(req, res, next));
  app.use(quiet);
}

/** The built browser client (client/dist), with index.html for every page path it routes itself. */
function installClient(app: Express, { clientDir }: Services): void {
  if (!clientDir || !existsSync(join(clientDir, 'index.html'))) return;
  app.use(express.static(clientDir, { index: 'index.html' }));
  const spa: RequestHandler = (req, res, next) => {
    if (req.method !== 'GET' || req.path.startsWith('/api/') || !req.accepts('html')) {
      next();
      return;
    }
    res.sendFile(join(clientDir, 'index.html'));
  };
  app.use(spa);
}

/** Anything no route or page answered: a JSON 404 (a wrong method on /healthz too), never Express's HTML page. */
function installNotFound(app: Express): void {
  const notFound: RequestHandler = (req, _res, next) => {
    next(new HttpError(404, 'not_found', `no route ${req.method} ${req.path}`));
  };
  app.use(notFound);
}
