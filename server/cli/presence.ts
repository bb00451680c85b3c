// The operator CLI: `npx presence <command>`; --json on every command prints JSON instead of text.
// It connects as the database owner: DATABASE_URL, or the project's local cluster (started if needed), or on a
// machine without PostgreSQL binaries the embedded PostgreSQL that a running `npm start` serves.
import argon2 from 'argon2';
import { Command, InvalidArgumentError, Option } from 'commander';
import pg from 'pg';
import { openDatabase } from '../../db/database.ts';
import { databaseOptions, loadConfig } from '../config.ts';
import { toAgent, type AgentPresenceRow } from '../db/agents.ts';

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
  .showHelpAfterError();

const json = new Option('--json', 'print JSON');

program
  .command('create-tenant')
  .description('create a tenant (default presence settings)')
  .requiredOption('--name <name>', 'tenant name')
  .addOption(json)
  .action(async (opts: { name: string } & Output) => {
    const id = await withDatabase(async (db) => (await db.query('select presence.create_tenant($1) as id', [opts.name])).rows[0].id);
    print(opts, { id }, `created tenant ${opts.name}: ${id}`);
  });

program
  .command('create-agent')
  .description('create a user who signs in; support_staff and client_admin are agents, supervisor only watches')
  .requiredOption('--tenant <id>', 'tenant id')
  .requiredOption('--email <email>', 'sign-in e-mail (unique)')
  .requiredOption('--name <name>', 'display name')
  .requiredOption('--password <password>', 'initial password (hashed with argon2id)')
  .addOption(new Option('--role <role>', 'role').choices(['support_staff', 'client_admin', 'supervisor']).default('support_staff'))
  .option('--max-chats <n>', 'most chats at once', positiveInt, 5)
  .addOption(json)
  .action(
    async (opts: { tenant: string; email: string; name: string; password: string; role: string; maxChats: number } & Output) => {
      const hash = await argon2.hash(opts.password, { type: argon2.argon2id });
      const row = await withDatabase(
        async (db) =>
          (
            await db.query<{ user_id: string; agent_id: string | null }>(
              'select * from presence.create_account($1, $2, $3, $4, $5, $6)',
              [opts.tenant, opts.email, opts.name, opts.role, hash, opts.maxChats],
            )
          ).rows[0]!,
      );
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
        `select id, tenant_id, status from public.human_agents
          where lower(email) = lower($1) and ($2::uuid is null or tenant_id = $2::uuid)`,
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
  .description('sign a user out everywhere: revoke all of its sign-in sessions (its open live streams end at once)')
  .requiredOption('--email <email>', "the user's e-mail")
  .addOption(json)
  .action(async (opts: { email: string } & Output) => {
    const result = await withDatabase(async (db) => {
      const { rows } = await db.query<{ id: string }>(
        'select u.id from presence_private.users u where lower(u.email) = lower($1)',
        [opts.email],
      );
      if (rows.length === 0) throw new Error(`no user with e-mail ${opts.email}`);
      const { rows: revoked } = await db.query<{ n: number }>('select presence.revoke_sessions($1) as n', [rows[0]!.id]);
      return { userId: rows[0]!.id, revoked: revoked[0]!.n };
    });
    print(opts, result, `${opts.email}: ${result.revoked} sign-in session(s) revoked`);
  });

program
  .command('status')
  .description('agents with their derived status and last beat')
  .option('--tenant <id>', 'only this tenant')
  .addOption(json)
  .action(async (opts: { tenant?: string } & Output) => {
    const rows = await withDatabase(
      async (db) =>
        (
          await db.query<AgentPresenceRow & { tenant: string }>(
            `select p.*, t.name as tenant from presence.agent_presence p join public.tenants t on t.id = p.tenant_id
              where $1::uuid is null or p.tenant_id = $1::uuid
              order by t.name, p.name, p.email`,
            [opts.tenant ?? null],
          )
        ).rows,
    );
    const agents = rows.map((r) => ({ tenantId: r.tenant_id, tenant: r.tenant, ...toAgent(r) }));
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

program
  .command('cron')
  .description('which scheduler runs the sweep, its schedule and its recent runs')
  .option('--runs <n>', 'how many recent runs to show', positiveInt, 10)
  .addOption(json)
  .action(async (opts: { runs: number } & Output) => {
    const result = await withDatabase(async (db) => {
      const scheduler = (
        await db.query<{ scheduler: string; schedule: string; active: boolean }>('select * from presence.sweep_scheduler()')
      ).rows[0]!;
      if (scheduler.scheduler === 'pg_cron') {
        const { rows } = await db.query<{
          start_time: Date | null;
          end_time: Date | null;
          status: string;
          return_message: string | null;
        }>(
          `select d.start_time, d.end_time, d.status, d.return_message
             from cron.job_run_details d join cron.job j on j.jobid = d.jobid
            where j.jobname = 'presence-sweep'
            order by d.start_time desc nulls last limit $1`,
          [opts.runs],
        );
        return {
          ...scheduler,
          job: 'presence-sweep',
          runs: rows.map((r) => ({
            start: r.start_time?.toISOString() ?? null,
            end: r.end_time?.toISOString() ?? null,
            status: r.status,
            message: r.return_message,
          })),
        };
      }
      const { rows } = await db.query<{ last_execution: Date | null }>(
        `select last_execution from graphile_worker._private_known_crontabs where identifier like 'presence_sweep%'`,
      );
      return {
        ...scheduler,
        job: 'presence_sweep (graphile-worker cron in the server process)',
        lastRun: rows[0]?.last_execution?.toISOString() ?? null,
        runs: [],
      };
    });
    const lines = [
      `scheduler: ${result.scheduler}`,
      `job:       ${result.job}`,
      `schedule:  '${result.schedule}'${result.active ? '' : ' (paused)'}`,
    ];
    if ('lastRun' in result) lines.push(`last run:  ${result.lastRun ?? 'never (is the server running?)'}`);
    else {
      lines.push(result.runs.length ? 'recent runs:' : 'no runs yet');
      for (const r of result.runs) lines.push(`  ${r.start ?? '?'}  ${r.status.padEnd(9)} ${r.message ?? ''}`);
    }
    print(opts, result, lines.join('\n'));
  });

program.parseAsync().catch((error: unknown) => {
  console.error(`presence: ${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = 1;
});
