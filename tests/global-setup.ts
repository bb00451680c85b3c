// One PostgreSQL cluster with pg_cron for the whole test run, created in a temporary folder on a free port
// and removed afterwards; or DATABASE_URL, when set. Every test file creates tenants of its own in it.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { withClient } from '../db/client.ts';
import { startCluster, type Cluster } from '../db/cluster.ts';
import { migrate } from '../db/migrate.ts';
import { loadConfig } from '../server/config.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    databaseUrl: string;
  }
}

let cluster: Cluster | undefined;
let tempDir: string | undefined;

export async function setup(project: TestProject): Promise<void> {
  const config = loadConfig();
  let url = config.databaseUrl;
  if (!url) {
    tempDir = mkdtempSync(join(tmpdir(), 'presence-test-'));
    cluster = await startCluster({
      dataDir: join(tempDir, 'pg'),
      ephemeral: true,
      // Tests of the pg_cron schedule must fail, not skip, when pg_cron is missing in CI.
      requirePgCron: config.ci,
    });
    url = cluster.url;
  }
  await migrate(url);
  // Tests make hundreds of accounts: bcrypt at its lowest cost (production keeps 10; the decoy follows the cost).
  await withClient(url, (client) => client.query('select presence_accounts.configure_sign_in(p_bcrypt_cost => 4)'));
  project.provide('databaseUrl', url);
}

export async function teardown(): Promise<void> {
  await cluster?.stop({ remove: true });
  if (tempDir) rmSync(tempDir, { recursive: true, force: true });
}
