// The HTTP layer, as a list of steps. Handlers authenticate, validate, call one presence SQL function and shape
// the reply; everything that decides presence lives in SQL.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import cookieParser from 'cookie-parser';
import express, { type Express, type RequestHandler } from 'express';
import { pinoHttp } from 'pino-http';
import type { AppContext } from './context.ts';
import { installErrorHandler, installNotFound } from './errors.ts';
import { HttpError } from './http-error.ts';
import { installAgents } from './routes/agents.ts';
import { installAuth } from './routes/auth.ts';
import { installHealth, installMetrics } from './routes/health.ts';
import { installHeartbeat } from './routes/heartbeat.ts';
import { installHistory } from './routes/history.ts';
import { installLeave } from './routes/leave.ts';
import { installStream } from './routes/stream.ts';

export function makeApp(ctx: AppContext): Express {
  const app = express();
  installSettings(app, ctx);
  installLogging(app, ctx);
  installBodyParsing(app);
  installOriginCheck(app);
  installHealth(app, ctx);
  installMetrics(app, ctx);
  installAuth(app, ctx);
  installHeartbeat(app, ctx);
  installLeave(app, ctx);
  installAgents(app, ctx);
  installStream(app, ctx);
  installHistory(app, ctx);
  installClient(app, ctx);
  installNotFound(app);
  installErrorHandler(app, ctx.logger);
  return app;
}

function installSettings(app: Express, { config }: AppContext): void {
  app.disable('x-powered-by');
  if (config.trustProxy !== undefined) {
    const hops = Number(config.trustProxy);
    app.set('trust proxy', Number.isInteger(hops) ? hops : config.trustProxy);
  }
}

/** Beats and scrapes are too many to log one by one; /metrics counts them instead. */
const QUIET_PATHS = new Set(['/api/auth/heartbeat', '/healthz', '/metrics']);

function installLogging(app: Express, { logger }: AppContext): void {
  app.use(
    pinoHttp({
      logger,
      autoLogging: { ignore: (req) => QUIET_PATHS.has((req.url ?? '').split('?')[0]!) },
      customLogLevel: (_req, res, error) => (error || res.statusCode >= 500 ? 'error' : 'info'),
      // Never log cookies: a session token in a log file is a session anyone can use.
      serializers: {
        req: (req: { id: unknown; method: string; url: string }) => ({ id: req.id, method: req.method, url: req.url }),
        res: (res: { statusCode: number }) => ({ statusCode: res.statusCode }),
      },
    }),
  );
}

function installBodyParsing(app: Express): void {
  app.use(cookieParser());
  app.use(express.json({ limit: '16kb' }));
}

/**
 * Cookie-authenticated writes must come from our own pages: a request that states a foreign Origin is refused.
 * (SameSite=Lax already keeps the cookie off most cross-site requests; a text/plain beacon is the case it misses.)
 */
function installOriginCheck(app: Express): void {
  const check: RequestHandler = (req, _res, next) => {
    const origin = req.get('origin');
    if (req.method === 'GET' || req.method === 'HEAD' || req.method === 'OPTIONS' || origin === undefined) {
      next();
      return;
    }
    // Host against host, not scheme: behind a proxy that ends TLS the server itself sees plain http.
    if (originHost(origin) !== req.get('host')) {
      throw new HttpError(403, 'forbidden_origin', `requests from origin ${origin} are not allowed`);
    }
    next();
  };
  app.use('/api', check);
}

function originHost(origin: string): string | null {
  try {
    return new URL(origin).host;
  } catch {
    return null; // `null` (sandboxed pages, file:) or garbage: never our own
  }
}

/** The built browser client (client/dist), with index.html for every page path it routes itself. */
function installClient(app: Express, { clientDir }: AppContext): void {
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
