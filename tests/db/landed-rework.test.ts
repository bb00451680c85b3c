// 1795500000000, 0001, 0110 and 0111 were reworked after landing, once, so that the migrations adopt a platform's
// existing tables (issue 9; the one allowed exception to "never edit a landed migration"). This proves the rework
// harmless for every install made before it: the landed files, taken from git history, then today's migrations,
// give exactly the schema of a fresh install with today's files (pg_dump --schema-only, compared whole).
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { findPgInstall } from '../../db/cluster.ts';
import { projectRoot } from '../../db/database.ts';
import { migrate } from '../../db/migrate.ts';
import { scratchDatabase } from '../helpers/db.ts';

const run = promisify(execFile);

/** main when the landed files were last as they landed (before the rework). */
const LANDED_COMMIT = '99aa527ef203b92c19acb293fbc485f9f8a57639';

const cleanup: Array<() => Promise<void> | void> = [];
afterAll(async () => {
  for (const step of cleanup.reverse()) await step();
});

async function landedMigrations(): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'presence-landed-'));
  cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
  const git = (...args: string[]) => run('git', args, { cwd: projectRoot, maxBuffer: 16 << 20 });
  const { stdout } = await git('ls-tree', '--name-only', LANDED_COMMIT, 'db/migrations/');
  const files = stdout.split('\n').filter((f) => f.endsWith('.sql'));
  for (const file of files) {
    const { stdout: text } = await git('show', `${LANDED_COMMIT}:${file}`);
    writeFileSync(join(dir, file.split('/').at(-1)!), text);
  }
  return dir;
}

async function schemaOf(url: string): Promise<string> {
  const install = await findPgInstall();
  const { stdout } = await run(join(install!.binDir, 'pg_dump'), ['--schema-only', '--restrict-key=test', '-d', url], {
    maxBuffer: 64 << 20,
  });
  return stdout;
}

describe('an install made with the migrations as first released (four of them reworked since)', () => {
  it('reaches exactly the schema of a fresh install once the current migrations run', async () => {
    // Setup
    const landedDir = await landedMigrations();
    const [before, fresh] = await Promise.all([scratchDatabase('landed'), scratchDatabase('fresh')]);
    cleanup.push(before.drop, fresh.drop);
    const applied = await migrate(before.url, { dir: landedDir });

    // Action
    await migrate(before.url);
    await migrate(fresh.url);

    // Assertions
    expect(applied).toHaveLength(7);
    const [upgraded, freshSchema] = await Promise.all([schemaOf(before.url), schemaOf(fresh.url)]);
    expect(upgraded).toContain('CREATE FUNCTION presence.heartbeats(');
    expect(upgraded).toBe(freshSchema);
  }, 60_000);
});
