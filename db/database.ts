// Which database the project runs on: DATABASE_URL when set, else the project's own local cluster.
import { join } from 'node:path';
import type { Config } from '../server/config.ts';
import { startCluster, type Cluster } from './cluster.ts';

export interface Database {
  url: string;
  /** The local cluster this process started or found running; absent with DATABASE_URL. */
  cluster?: Cluster;
  /** One line for start-up logs: where the data lives. Never contains a password. */
  description: string;
}

export function redactUrl(url: string): string {
  const u = new URL(url);
  if (u.password) u.password = '***';
  return u.toString();
}

export async function openDatabase(config: Config): Promise<Database> {
  if (config.databaseUrl) {
    return { url: config.databaseUrl, description: `DATABASE_URL ${redactUrl(config.databaseUrl)}` };
  }
  const cluster = await startCluster({ dataDir: join(config.dataDir, 'postgres'), requirePgCron: config.ci });
  return {
    url: cluster.url,
    cluster,
    description: `local PostgreSQL ${cluster.install.version} cluster in ${cluster.dataDir} on port ${cluster.port}${
      cluster.install.hasPgCron ? ' with pg_cron' : ' (no pg_cron on this machine)'
    }`,
  };
}
