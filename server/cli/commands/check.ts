// `presence check`: for a platform's CI, whether what presence needs is in place in the database: its schemas,
// functions and views, the grants of the request path (and none to PUBLIC), every migration applied, a scheduler for
// the sweep, the platform's columns it reads with usable types, and nothing of presence's on the platform's tables.
// One line per check; any failure exits 1 naming what is missing.
import { readdirSync } from 'node:fs';
import type { Command } from 'commander';
import { MIGRATIONS_DIR } from '../../../db/migrate.ts';
import { sweepScheduler } from '../../../db/sql/sweep-scheduler.ts';
import type { Database } from '../../database/handle.ts';
import { withDatabase } from '../database.ts';
import { jsonOption, print, type Output } from '../output.ts';
import {
  appliedMigrations,
  footprintOnPlatform,
  missingGrants,
  missingObjects,
  missingSchemas,
  platformColumns,
  publicFunctions,
  SCHEMAS,
  type PlatformColumn,
} from '../sql/check.ts';

export interface Check {
  name: string;
  ok: boolean;
  /** What was found, or what is missing or wrong. */
  detail: string;
  /** Each thing missing or wrong, for --json. */
  missing: string[];
}

function verdict(name: string, missing: string[], ok: string, wrong: (missing: string[]) => string): Check {
  return { name, ok: missing.length === 0, detail: missing.length === 0 ? ok : wrong(missing), missing };
}

const STATUSES = ['available', 'away', 'dnd', 'offline'];
const INTEGER_TYPES = ['smallint', 'integer', 'bigint'];

/** What is wrong with one platform column presence reads; null when it is usable. */
function columnProblem(c: PlatformColumn): string | null {
  const name = `${c.table}.${c.column}`;
  if (c.type === null) {
    // Presence keeps these itself where the platform has none.
    if (['last_seen', 'active_chats', 'max_chats'].includes(c.column)) return null;
    return `${name} is missing`;
  }
  if (c.expected !== null && c.type !== c.expected) return `${name} is ${c.type}, presence's key is ${c.expected}`;
  switch (c.column) {
    case 'status':
      if (c.category === 'S') return null;
      if (c.category === 'E' && STATUSES.every((s) => c.labels?.includes(s))) return null;
      return `${name} is ${c.type}, not text, varchar or an enum with ${STATUSES.join(', ')}`;
    case 'name':
    case 'email':
      return c.category === 'S' ? null : `${name} is ${c.type}, not text or varchar`;
    case 'last_seen':
      return ['timestamp without time zone', 'timestamp with time zone'].includes(c.type.replace(/\(\d\)/, ''))
        ? null
        : `${name} is ${c.type}, not timestamp or timestamptz`;
    case 'active_chats':
    case 'max_chats':
      return INTEGER_TYPES.includes(c.type) ? null : `${name} is ${c.type}, not an integer type`;
    default:
      return null;
  }
}

async function runChecks(db: Database, options: { workerSweeps: boolean }): Promise<Check[]> {
  const checks: Check[] = [];
  const schemas = await missingSchemas(db);
  checks.push(verdict('schemas', schemas, SCHEMAS.join(', '), (m) => `missing schema ${m.join(', ')} (npx presence migrate)`));

  const shipped = readdirSync(MIGRATIONS_DIR).filter((f) => f.endsWith('.sql')).map((f) => f.replace(/\.sql$/, '')).sort();
  const applied = await appliedMigrations(db);
  const pending = applied === null ? shipped : shipped.filter((m) => !applied.includes(m));
  checks.push(
    verdict('migrations', pending, `all ${shipped.length} applied`, (m) =>
      applied === null ? 'never applied (npx presence migrate)' : `${m.length} not applied: ${m.join(', ')} (npx presence migrate)`,
    ),
  );
  if (schemas.includes('presence')) return checks;

  const objects = await missingObjects(db);
  checks.push(verdict('functions', objects, 'every function and view presence calls and serves', (m) => `missing ${m.join(', ')}`));

  const grants = await missingGrants(db);
  checks.push(verdict('grants', grants, 'presence_app executes what the request path calls', (m) => `missing ${m.join(', ')}`));
  const open = await publicFunctions(db);
  checks.push(verdict('public', open, 'PUBLIC executes nothing of presence\'s', (m) => `PUBLIC may execute ${m.join(', ')}`));

  const s = await sweepScheduler(db);
  let sweep: string[] = [];
  let sweepOk: string;
  if (s.scheduler === 'pg_cron') {
    sweepOk = `pg_cron job ${s.here ? 'presence-sweep' : `in database ${s.database_name}`}, schedule '${s.schedule}'`;
    if (!s.active) sweep = [`the pg_cron job presence-sweep is paused (select cron.alter_job(jobid, active => true))`];
  } else {
    sweepOk = 'the worker sweeps (--worker-sweeps: the platform runs startPresenceWorker or npx presence worker)';
    if (!options.workerSweeps) {
      sweep = [
        'no pg_cron job sweeps this database (npx presence cron install; or, where the platform runs presence\'s worker, --worker-sweeps)',
      ];
    }
  }
  checks.push(verdict('sweep', sweep, sweepOk, (m) => m.join('; ')));

  const columns = await platformColumns(db);
  const problems = columns.map(columnProblem).filter((p): p is string => p !== null);
  const kept = columns.filter((c) => c.type === null).map((c) => c.column);
  checks.push(
    verdict(
      'platform columns',
      problems,
      `tenants.id, human_agents id, tenant_id, status, name, email${kept.length ? `; presence keeps ${kept.join(', ')} itself` : ', last_seen, active_chats, max_chats'}`,
      (m) => m.join('; '),
    ),
  );

  const footprint = await footprintOnPlatform(db);
  checks.push(
    verdict('platform tables', footprint, "nothing of presence's on public.tenants or public.human_agents", (m) =>
      `presence's ${m.join(', ')} still on the platform's tables (npx presence migrate)`,
    ),
  );
  return checks;
}

export function registerCheck(program: Command): void {
  program
    .command('check')
    .description("verify that what presence needs is in place (schemas, functions, grants, migrations, the sweep's scheduler, the platform's columns); exits 1 naming what is missing")
    .option('--worker-sweeps', "accept graphile-worker's sweep (the platform runs presence's worker) where no pg_cron job sweeps", false)
    .addOption(jsonOption())
    .action(async (opts: { workerSweeps: boolean } & Output) => {
      const checks = await withDatabase((db) => runChecks(db, { workerSweeps: opts.workerSweeps }));
      const failed = checks.filter((c) => !c.ok);
      print(
        opts,
        { ok: failed.length === 0, checks },
        checks.map((c) => `${c.ok ? 'ok  ' : 'FAIL'}  ${c.name}: ${c.detail}`).join('\n'),
      );
      // The lines (or the JSON) above say what is missing; stderr names the checks that failed.
      if (failed.length) throw new Error(`check failed: ${failed.map((c) => c.name).join(', ')}`);
    });
}
