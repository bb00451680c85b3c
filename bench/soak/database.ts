// The soak's database: a durable cluster of the run's own with pg_cron sweeping every minute (unlike bench/cluster.ts,
// which stops the sweep so that nothing sweeps behind a measure's back), migrated, with a pool for the driver and
// pg_ctl for the scenarios that restart or crash it.
import { execFile } from 'node:child_process';
import { basename, dirname, join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { startCluster, type Cluster } from '../../db/cluster.ts';
import { migrate } from '../../db/migrate.ts';
import { postgresPids } from '../cpu.ts';

const run = promisify(execFile);

export interface Database {
  cluster: Cluster;
  owner: pg.Pool;
  logFile: string;
  pgCtl(args: string[]): Promise<void>;
  /** The postmaster and every backend. */
  pids(): number[];
  stop(): Promise<void>;
}

export async function openDatabase(dir: string): Promise<Database> {
  const dataDir = join(dir, 'pg');
  const cluster = await startCluster({ dataDir, ephemeral: false });
  await migrate(cluster.url);
  const owner = new pg.Pool({ connectionString: cluster.url, max: 6, application_name: 'soak-driver' });
  owner.on('error', () => {}); // the scenarios restart the database under it
  const logFile = join(dirname(dataDir), `${basename(dataDir)}.log`);
  const asServerUser = (binary: string, args: string[]) =>
    process.getuid?.() === 0 ? run('runuser', ['-u', 'postgres', '--', binary, ...args]) : run(binary, args);
  return {
    cluster,
    owner,
    logFile,
    async pgCtl(args) {
      await asServerUser(join(cluster.install.binDir, 'pg_ctl'), ['-D', dataDir, '-l', logFile, '-w', '-t', '60', ...args]);
    },
    pids() {
      return postgresPids(dataDir);
    },
    async stop() {
      await owner.end().catch(() => {});
      await cluster.stop({ remove: true });
    },
  };
}
