// The database a benchmark run measures: a throwaway cluster of its own (removed afterwards), or DATABASE_URL.
//
// The throwaway cluster is durable (fsync on, synchronous_commit on): the heartbeat figures must include the
// cost of a commit that survives a crash wherever a transition happens. It is sized like a small production
// server rather than like initdb's defaults: shared_buffers holds the presence tables (1M agents with their tabs
// are ~600 MB), and random_page_cost 1.1 says what is true of a cached table on SSD. pg_stat_statements is
// preloaded to count the server's statements; pg_cron's own sweep job is unscheduled so that nothing sweeps behind
// the benchmark's back. max_connections leaves room for the serving processes' pools and LISTEN connections.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import pg from 'pg';
import { startCluster, type Cluster } from '../db/cluster.ts';
import { migrate } from '../db/migrate.ts';
import { childPids } from './cpu.ts';

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
  /** Another empty, migrated database on the same server, with its URL (DATABASE_URL: that database again). */
  createDatabase(name: string): Promise<string>;
  /** The server's processes (postmaster and backends) when this run started it, for CPU accounting; else null. */
  postgresPids: (() => number[]) | null;
  stop(): Promise<void>;
}

export async function openBenchDatabase(databaseUrl: string | undefined): Promise<BenchDatabase> {
  if (databaseUrl) {
    await migrate(databaseUrl);
    // The sweeps the benchmark times are dated; pg_cron's own sweep, dated now, would take the bench agents
    // offline between runs. It is paused for the run and resumed afterwards.
    const paused = await withClient(databaseUrl, async (c) => {
      if (!(await c.query("select 1 from pg_extension where extname = 'pg_cron'")).rowCount) return [];
      const { rows } = await c.query<{ jobid: string }>(
        "select jobid from cron.job where jobname = 'presence-sweep' and active",
      );
      for (const { jobid } of rows) await c.query('select cron.alter_job($1::bigint, active => false)', [jobid]);
      return rows.map((r) => r.jobid);
    });
    return {
      url: databaseUrl,
      own: false,
      settings: await reportSettings(databaseUrl),
      createDatabase: async () => databaseUrl,
      postgresPids: null,
      stop: () =>
        withClient(databaseUrl, async (c) => {
          for (const jobid of paused) await c.query('select cron.alter_job($1::bigint, active => true)', [jobid]);
        }),
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
  const postmaster = Number(readFileSync(join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
  return {
    url,
    own: true,
    postgresPids: () => [postmaster, ...childPids(postmaster)],
    settings: await reportSettings(url),
    async createDatabase(name: string) {
      await withClient(url.replace(/\/[^/]+$/, '/postgres'), (c) => c.query(`create database ${name}`));
      const other = url.replace(/\/[^/]+$/, `/${name}`);
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

export async function withClient<T>(url: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
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
