// The operator CLI: `npx presence <command>`; --json on every command prints JSON instead of text.
// create-tenant, create-agent and sign-out manage this project's own accounts (the standalone server); mark-offline,
// status, cron and worker work on any database presence was migrated into, a platform's too.
// It connects as the database owner: DATABASE_URL, or the project's local cluster (started if needed), or on a
// machine without PostgreSQL binaries the embedded PostgreSQL that a running `npm start` serves.
import { Command, InvalidArgumentError, Option } from 'commander';
import pg from 'pg';
import { openDatabase } from '../../db/database.ts';
import { databaseOptions, loadConfig } from '../config.ts';
import { describeSweep, migrate } from '../../db/migrate.ts';
import { pino } from 'pino';
import { startPresenceWorker } from '../presence/worker.ts';
import { onStopRequest } from '../stop-request.ts';
import { toAgent, type AgentPresenceRow } from '../presence/sql/agents.ts';

interface Output {
  json: boolean;
}

async function databaseUrl(): Promise<string> {
  return (await openDatabase(databaseOptions(loadConfig(), 'use'))).url;
}

async function withDatabase<T>(work: (db: pg.Client) => Promise<T>): Promise<T> {
  const url = await databaseUrl();
  const db = new pg.Client({ connectionString: url, application_name: 'presence-cli' });
  await db.connect();
  try {
    return await work(db);
  } finally {
    await db.end();
  }
}

/**
 * Checks a --tenant value before any command uses it: an id of the tenants' key type (uuid on a standalone install),
 * of a tenant that exists. The error names the value and what is wrong with it.
 */
async function requireTenant(db: pg.Client, tenant: string): Promise<void> {
  let exists: boolean;
  try {
    const { rows } = await db.query<{ exists: boolean }>(
      'select exists (select 1 from public.tenants t where t.id = $1::presence.tenant_key) as exists',
      [tenant],
    );
    exists = rows[0]!.exists;
  } catch (error) {
    // Class 22: the value is not of the key type (invalid input syntax for type uuid: "nope").
    if ((error as { code?: string }).code?.startsWith('22')) {
      throw new Error(`--tenant '${tenant}' is not a tenant id (${(error as Error).message})`);
    }
    throw error;
  }
  if (!exists) throw new Error(`--tenant '${tenant}': no such tenant`);
}

function print(out: Output, json: unknown, text: string): void {
  console.log(out.json ? JSON.stringify(json, null, 2) : text);
}

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError('expected a whole number >= 0');
  return n;
}

function ago(seconds: number | null): string {
  if (seconds === null) return 'never';
  if (seconds < 120) return `${seconds} s ago`;
  if (seconds < 7200) return `${Math.floor(seconds / 60)} min ago`;
  return `${Math.floor(seconds / 3600)} h ago`;
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((cell, i) => cell.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n');
}

const program = new Command('presence')
  .description('Operator commands for agent-presence (DATABASE_URL, or the local cluster in .data/postgres).')
  .showHelpAfterError()
  // `presence cron install --json`: an option after a subcommand belongs to that subcommand.
  .enablePositionalOptions();

const json = new Option('--json', 'print JSON');

program
  .command('migrate')
  .description("apply presence's migrations to the database (a platform's tables public.tenants and public.human_agents are adopted, never dropped or retyped)")
  .addOption(json)
  .action(async (opts: Output) => {
    const url = await databaseUrl();
    const applied = await migrate(url);
    const sweep = await describeSweep(url);
    print(
      opts,
      { applied, sweep },
      [applied.length ? `applied ${applied.join(', ')}` : 'no migrations to run: the schema is current', `sweep: ${sweep}`].join('\n'),
    );
  });

program
  .command('create-tenant')
  .description('create a tenant (default presence settings); for the standalone server\'s own accounts')
  .requiredOption('--name <name>', 'tenant name')
  .addOption(json)
  .action(async (opts: { name: string } & Output) => {
    const id = await withDatabase(
      async (db) => (await db.query<{ id: string }>('select presence_accounts.create_tenant($1)::text as id', [opts.name])).rows[0]!.id,
    );
    print(opts, { id }, `created tenant ${opts.name}: ${id}`);
  });

program
  .command('create-agent')
  .description('create a user who signs in to the standalone server; support_staff and client_admin are agents, supervisor only watches')
  .requiredOption('--tenant <id>', 'tenant id')
  .requiredOption('--email <email>', 'sign-in e-mail (unique)')
  .requiredOption('--name <name>', 'display name')
  .requiredOption('--password <password>', 'initial password, at least 8 characters (hashed with bcrypt in the database)')
  .addOption(new Option('--role <role>', 'role').choices(['support_staff', 'client_admin', 'supervisor']).default('support_staff'))
  .option('--max-chats <n>', 'most chats at once', positiveInt, 5)
  .addOption(json)
  .action(
    async (opts: { tenant: string; email: string; name: string; password: string; role: string; maxChats: number } & Output) => {
      const row = await withDatabase(async (db) => {
        await requireTenant(db, opts.tenant);
        return (
          await db.query<{ user_id: string; agent_id: string | null }>(
            'select user_id, agent_id::text from presence_accounts.create_account($1, $2, $3, $4, $5, $6)',
            [opts.tenant, opts.email, opts.name, opts.role, opts.password, opts.maxChats],
          )
        ).rows[0]!;
      });
      print(
        opts,
        { id: row.agent_id, userId: row.user_id },
        `created ${opts.role} ${opts.name} <${opts.email}>: ${row.agent_id ? `agent ${row.agent_id}, ` : ''}user ${row.user_id}`,
      );
    },
  );

program
  .command('mark-offline')
  .description('take one stuck agent offline now (reason admin); its browser, if really open, brings it back')
  .requiredOption('--email <email>', "the agent's e-mail")
  .option('--tenant <id>', 'tenant id, when the e-mail exists in several tenants')
  .addOption(json)
  .action(async (opts: { email: string; tenant?: string } & Output) => {
    const result = await withDatabase(async (db) => {
      const { rows } = await db.query<{ id: string; tenant_id: string; status: string }>(
        `select id::text, tenant_id::text, status::text from public.human_agents
          where lower(email) = lower($1) and ($2::text is null or tenant_id::text = $2::text)`,
        [opts.email, opts.tenant ?? null],
      );
      if (rows.length === 0) throw new Error(`no agent with e-mail ${opts.email}${opts.tenant ? ` in tenant ${opts.tenant}` : ''}`);
      if (rows.length > 1) {
        throw new Error(`${opts.email} is an agent in several tenants (${rows.map((r) => r.tenant_id).join(', ')}): add --tenant`);
      }
      const agent = rows[0]!;
      await db.query('select presence.mark_offline($1, $2)', [agent.tenant_id, agent.id]);
      return { id: agent.id, tenantId: agent.tenant_id, from: agent.status, status: 'offline' };
    });
    print(opts, result, `${opts.email} (${result.id}) is offline now (was ${result.from})`);
  });

program
  .command('sign-out')
  .description('sign a standalone-server user out everywhere: revoke all of its sign-in sessions (its tabs and live streams end at once)')
  .requiredOption('--email <email>', "the user's e-mail")
  .addOption(json)
  .action(async (opts: { email: string } & Output) => {
    const result = await withDatabase(async (db) => {
      const { rows } = await db.query<{ id: string }>(
        'select u.id from presence_accounts.users u where lower(u.email) = lower($1)',
        [opts.email],
      );
      if (rows.length === 0) throw new Error(`no user with e-mail ${opts.email}`);
      const { rows: revoked } = await db.query<{ n: number }>('select presence_accounts.revoke_sessions($1) as n', [rows[0]!.id]);
      return { userId: rows[0]!.id, revoked: revoked[0]!.n };
    });
    print(opts, result, `${opts.email}: ${result.revoked} sign-in session(s) revoked`);
  });

program
  .command('unlock')
  .description(
    'lift a sign-in lock before its 15 minutes pass: forget the failed sign-ins of an account (from every address, or from --address only), or with --address alone every failure from that address',
  )
  .option('--email <email>', "the account's e-mail as it was typed (any case; known or not)")
  .option('--address <address>', 'the client address as the server saw it (behind TRUST_PROXY: the X-Forwarded-For address)')
  .addOption(json)
  .action(async (opts: { email?: string; address?: string } & Output) => {
    if (opts.email === undefined && opts.address === undefined) throw new Error('unlock needs --email, --address or both');
    const cleared = await withDatabase(
      async (db) =>
        (
          await db.query<{ cleared: number }>('select presence_accounts.lift_sign_in_lock($1, $2) as cleared', [
            opts.email ?? null,
            opts.address ?? null,
          ])
        ).rows[0]!.cleared,
    );
    const which = [opts.email, opts.address === undefined ? undefined : `from ${opts.address}`].filter(Boolean).join(' ');
    print(
      opts,
      { email: opts.email ?? null, address: opts.address ?? null, cleared },
      cleared > 0 ? `${which}: ${cleared} failed sign-in(s) forgotten, the lock is lifted` : `${which}: no failed sign-ins to forget`,
    );
  });

program
  .command('status')
  .description('agents with their derived status and last beat')
  .option('--tenant <id>', 'only this tenant')
  .addOption(json)
  .action(async (opts: { tenant?: string } & Output) => {
    const rows = await withDatabase(async (db) => {
      if (opts.tenant !== undefined) await requireTenant(db, opts.tenant);
      return (
        await db.query<AgentPresenceRow & { tenant: string }>(
          `select p.*, p.tenant_id::text as tenant_id, t.name::text as tenant
             from presence.agent_presence p join public.tenants t on t.id = p.tenant_id
            where $1::text is null or p.tenant_id::text = $1::text
            order by t.name, p.name, p.email`,
          [opts.tenant ?? null],
        )
      ).rows;
    });
    const agents = rows.map((r) => ({ tenantId: String(r.tenant_id), tenant: r.tenant, ...toAgent(r) }));
    print(
      opts,
      { agents },
      agents.length === 0
        ? 'no agents'
        : table([
            ['TENANT', 'AGENT', 'E-MAIL', 'STATUS', 'CHOSEN', 'LAST SEEN', 'CHATS'],
            ...agents.map((a) => [
              a.tenant,
              a.name,
              a.email,
              a.status,
              a.chosenStatus,
              ago(a.secondsSinceSeen),
              `${a.activeChats}/${a.maxChats}`,
            ]),
          ]),
    );
  });

interface Scheduler {
  scheduler: 'pg_cron' | 'graphile-worker';
  schedule: string;
  active: boolean;
  database_name: string;
  last_run_at: Date | null;
  here: boolean;
}

async function schedulerOf(db: pg.Client): Promise<Scheduler> {
  return (
    await db.query<Scheduler>('select s.*, s.database_name = current_database() as here from presence.sweep_scheduler() s')
  ).rows[0]!;
}

/** The same server, another database (where managed PostgreSQL keeps pg_cron). */
function otherDatabaseUrl(url: string, database: string): string {
  const other = new URL(url);
  other.pathname = `/${encodeURIComponent(database)}`;
  return other.toString();
}

async function withCronDatabase<T>(url: string, database: string, work: (db: pg.Client) => Promise<T>): Promise<T> {
  const db = new pg.Client({ connectionString: otherDatabaseUrl(url, database), application_name: 'presence-cli' });
  await db.connect().catch((error: unknown) => {
    throw new Error(`cannot connect to database ${database}, where pg_cron lives: ${error instanceof Error ? error.message : error}`);
  });
  try {
    return await work(db);
  } finally {
    await db.end();
  }
}

const RUNS_SQL = `select d.start_time, d.end_time, d.status, d.return_message
                    from cron.job_run_details d join cron.job j on j.jobid = d.jobid
                   where j.jobname = $1
                   order by d.start_time desc nulls last limit $2`;

const cron = program
  .command('cron')
  .description('which scheduler runs the sweep, its schedule and its recent runs (wherever pg_cron lives)')
  .option('--runs <n>', 'how many recent runs to show', positiveInt, 10)
  .addOption(json)
  .action(async (opts: { runs: number } & Output) => {
    const url = await databaseUrl();
    const result = await withDatabase(async (db) => {
      const s = await schedulerOf(db);
      const base = {
        scheduler: s.scheduler,
        schedule: s.schedule,
        active: s.active,
        database: s.database_name,
        lastRun: s.last_run_at?.toISOString() ?? null,
      };
      if (s.scheduler !== 'pg_cron') {
        return { ...base, job: 'presence_sweep (graphile-worker cron: npm start, or npx presence worker)', runs: [] };
      }
      const job = s.here
        ? 'presence-sweep'
        : ((await db.query<{ job_name: string }>('select job_name from presence_private.remote_cron_job')).rows[0]?.job_name ?? '');
      const read = async (c: pg.Client) =>
        (await c.query<{ start_time: Date | null; end_time: Date | null; status: string; return_message: string | null }>(RUNS_SQL, [job, opts.runs])).rows;
      const rows = s.here ? await read(db) : await withCronDatabase(url, s.database_name, read);
      return {
        ...base,
        job,
        runs: rows.map((r) => ({
          start: r.start_time?.toISOString() ?? null,
          end: r.end_time?.toISOString() ?? null,
          status: r.status,
          message: r.return_message,
        })),
      };
    });
    const lines = [
      `scheduler: ${result.scheduler}${result.scheduler === 'pg_cron' ? ` (database ${result.database})` : ''}`,
      `job:       ${result.job}`,
      `schedule:  '${result.schedule}'${result.active ? '' : ' (paused)'}`,
      `last run:  ${result.lastRun ?? 'never'}`,
    ];
    if (result.scheduler === 'pg_cron') {
      lines.push(result.runs.length ? 'recent runs:' : 'no runs yet');
      for (const r of result.runs) lines.push(`  ${r.start ?? '?'}  ${r.status.padEnd(9)} ${r.message ?? ''}`);
    }
    print(opts, result, lines.join('\n'));
  });

cron
  .command('install')
  .description("schedule the sweep with pg_cron in the server's pg_cron database (cron.database_name), for this database")
  .option('--schedule <cron>', "pg_cron schedule ('* * * * *', or '10 seconds' with pg_cron >= 1.5)", '* * * * *')
  .addOption(json)
  .action(async (opts: { schedule: string } & Output) => {
    const url = await databaseUrl();
    const result = await withDatabase(async (db) => {
      const { rows } = await db.query<{ cron_db: string | null; here: string }>(
        `select current_setting('cron.database_name', true) as cron_db, current_database()::text as here`,
      );
      const { cron_db: cronDb, here } = rows[0]!;
      if (!cronDb) {
        throw new Error('pg_cron is not loaded on this server (shared_preload_libraries); the server process sweeps with graphile-worker instead');
      }
      const job = cronDb === here ? 'presence-sweep' : `presence-sweep:${here}`;
      if (cronDb === here) {
        await db.query(`select cron.schedule('presence-sweep', $1, 'select presence.sweep_stale_agents()')`, [opts.schedule]);
      } else {
        await withCronDatabase(url, cronDb, async (c) => {
          const installed = await c.query(`select 1 from pg_extension where extname = 'pg_cron'`);
          if (!installed.rowCount) throw new Error(`pg_cron is not created in database ${cronDb}: create extension pg_cron there first`);
          await c.query(`select cron.schedule_in_database($1, $2, 'select presence.sweep_stale_agents()', $3)`, [
            job,
            opts.schedule,
            here,
          ]);
        });
        await db.query(
          `insert into presence_private.remote_cron_job (database_name, job_name, schedule) values ($1, $2, $3)
           on conflict (id) do update set database_name = excluded.database_name, job_name = excluded.job_name,
                                          schedule = excluded.schedule, installed_at = now()`,
          [cronDb, job, opts.schedule],
        );
      }
      return { job, database: cronDb, schedule: opts.schedule, sweeps: here };
    });
    print(opts, result, `pg_cron job ${result.job} in database ${result.database} sweeps database ${result.sweeps}, schedule '${result.schedule}'`);
  });

cron
  .command('uninstall')
  .description('remove the pg_cron job that sweeps this database from another database (the worker takes over)')
  .addOption(json)
  .action(async (opts: Output) => {
    const url = await databaseUrl();
    const result = await withDatabase(async (db) => {
      const { rows } = await db.query<{ database_name: string; job_name: string }>(
        'select database_name, job_name from presence_private.remote_cron_job',
      );
      const remote = rows[0];
      if (!remote) throw new Error('no pg_cron job in another database sweeps this one');
      await withCronDatabase(url, remote.database_name, (c) =>
        c.query(`select cron.unschedule(jobid) from cron.job where jobname = $1`, [remote.job_name]),
      );
      await db.query('delete from presence_private.remote_cron_job');
      return { job: remote.job_name, database: remote.database_name };
    });
    print(opts, result, `removed pg_cron job ${result.job} from database ${result.database}`);
  });

program
  .command('worker')
  .description("run presence's graphile-worker tasks (release_chats; the fallback sweep when pg_cron does not sweep) until Ctrl-C")
  .action(async () => {
    const url = await databaseUrl();
    const logger = pino({ level: loadConfig().logLevel });
    const worker = await startPresenceWorker({ connectionString: url, logger });
    console.log('presence worker running (release_chats, presence_sweep fallback); Ctrl-C or SIGTERM stops it');
    // SIGINT or SIGTERM to this process or to npx's (which leaves this one orphaned: server/stop-request.ts); a
    // second request exits at once.
    let stopping = false;
    const reason = await new Promise<string>((resolve) =>
      onStopRequest((why) => {
        if (stopping) process.exit(1);
        stopping = true;
        resolve(why);
      }),
    );
    logger.info({ reason }, 'shutting down');
    await worker.stop();
    logger.info('stopped');
  });

program.parseAsync().catch((error: unknown) => {
  const hint = (error as { hint?: unknown }).hint;
  console.error(`presence: ${error instanceof Error ? error.message : String(error)}${typeof hint === 'string' ? `\n  ${hint}` : ''}`);
  process.exitCode = 1;
});
