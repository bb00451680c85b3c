// The database a benchmark run measures: a throwaway cluster of its own (removed afterwards), or DATABASE_URL.
//
// The throwaway cluster is durable (fsync on, synchronous_commit on): the heartbeat figures must include the
// cost of a commit that survives a crash wherever a transition happens. It is sized like a small production
// server rather than like initdb's defaults: shared_buffers holds the presence tables of 1M agents with their tabs
// (their size is in docs/benchmarks.md, "How it measures"), and random_page_cost 1.1 says what is true of a cached
// table on SSD. pg_stat_statements is
// preloaded to count the server's statements; pg_cron's own sweep job is unscheduled so that nothing sweeps behind
// the benchmark's back. max_connections leaves room for the serving processes' pools and LISTEN connections.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { startCluster, type Cluster } from '../db/cluster.ts';
import { migrate } from '../db/migrate.ts';
import { withClient } from '../db/client.ts';
import { postgresPids } from './cpu.ts';

export const SERVER_SETTINGS: Record<string, string> = {
  shared_buffers: '1GB',
  random_page_cost: '1.1',
  max_wal_size: '4GB',
  max_connections: '200',
};

export interface BenchDatabase {
  url: string;
  /** Whether this run created (and will remove) the cluster. */
  own: boolean;
  /** Settings that shape the figures, as the server reports them. */
  settings: Record<string, string>;
  /** Another empty, migrated database on the same server, with its URL. */
  createDatabase(name: string): Promise<string>;
  /** The server's processes (postmaster and backends) when this run started it, for CPU accounting; else null. */
  postgresPids: (() => number[]) | null;
  stop(): Promise<void>;
}

export async function openBenchDatabase(databaseUrl: string | undefined): Promise<BenchDatabase> {
  if (databaseUrl) {
    // Every measure runs in a database of its own on that server, dropped afterwards: nothing else there (agents of
    // the platform, of tests, of an earlier run) is swept or counted, and pg_cron, which runs jobs only in
    // cron.database_name, never sweeps behind the bench's back. The role needs CREATEDB.
    const made: string[] = [];
    const createDatabase = async (name: string): Promise<string> => {
      const unique = `${name}_${randomBytes(4).toString('hex')}`;
      try {
        await withClient(databaseUrl, (c) => c.query(`create database ${unique}`));
      } catch (error) {
        throw new Error(`the bench makes databases of its own on DATABASE_URL's server and could not (${String(error)}): give the role CREATEDB`);
      }
      made.push(unique);
      const other = withDatabase(databaseUrl, unique);
      await migrate(other);
      await withClient(other, async (c) => {
        const available = await c.query("select 1 from pg_available_extensions where name = 'pg_stat_statements'");
        if (available.rowCount) await c.query('create extension if not exists pg_stat_statements').catch(() => {});
      });
      return other;
    };
    const url = await createDatabase('presence_bench');
    return {
      url,
      own: false,
      settings: await reportSettings(url),
      createDatabase,
      postgresPids: null,
      stop: async () => {
        for (const name of made) await withClient(databaseUrl, (c) => c.query(`drop database if exists ${name} with (force)`));
      },
    };
  }

  const dataDir = join(mkdtempSync(join(tmpdir(), 'presence-bench-')), 'pg');
  let cluster: Cluster = await startCluster({ dataDir, ephemeral: false });
  await withClient(cluster.url, async (c) => {
    for (const [name, value] of Object.entries(SERVER_SETTINGS)) await c.query(`alter system set ${name} = '${value}'`);
    await c.query(`alter system set shared_preload_libraries = ${cluster.install.hasPgCron ? "'pg_cron', " : ''}'pg_stat_statements'`);
  });
  await cluster.stop();
  cluster = await startCluster({ dataDir, ephemeral: false });
  await migrate(cluster.url);
  await withClient(cluster.url, async (c) => {
    await c.query('create extension if not exists pg_stat_statements');
    if ((await c.query("select 1 from pg_extension where extname = 'pg_cron'")).rowCount) {
      await c.query("select cron.unschedule(jobid) from cron.job where jobname = 'presence-sweep'");
    }
  });
  const url = cluster.url;
  return {
    url,
    own: true,
    postgresPids: () => postgresPids(dataDir),
    settings: await reportSettings(url),
    async createDatabase(name: string) {
      await withClient(withDatabase(url, 'postgres'), (c) => c.query(`create database ${name}`));
      const other = withDatabase(url, name);
      await migrate(other);
      await withClient(other, (c) => c.query('create extension if not exists pg_stat_statements'));
      return other;
    },
    async stop() {
      await cluster.stop({ remove: true });
      rmSync(dirname(dataDir), { recursive: true, force: true });
    },
  };
}

function withDatabase(url: string, name: string): string {
  const other = new URL(url);
  other.pathname = `/${name}`;
  return other.toString();
}

async function reportSettings(url: string): Promise<Record<string, string>> {
  const names = ['server_version', 'shared_buffers', 'random_page_cost', 'synchronous_commit', 'fsync', 'max_wal_size'];
  return withClient(url, async (c) => {
    const { rows } = await c.query<{ name: string; setting: string }>(
      `select name, current_setting(name) as setting from pg_settings where name = any($1)`,
      [names],
    );
    return Object.fromEntries(rows.map((r) => [r.name, r.setting]));
  });
}

export { withClient };
