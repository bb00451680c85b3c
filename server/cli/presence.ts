// The operator CLI: `npx presence <command>`, one file per command in server/cli/commands/; --json on every command
// but `worker` prints JSON instead of text (server/cli/output.ts).
// create-tenant, create-agent, sign-out and unlock manage this project's own accounts (the standalone server);
// migrate, check, mark-offline, status, cron and worker work on any database presence was migrated into, a platform's too.
// It connects as the database owner (server/cli/database.ts).
import { Command } from 'commander';
import { registerCheck } from './commands/check.ts';
import { registerCreateAgent } from './commands/create-agent.ts';
import { registerCreateTenant } from './commands/create-tenant.ts';
import { registerCron } from './commands/cron.ts';
import { registerMarkOffline } from './commands/mark-offline.ts';
import { registerMigrate } from './commands/migrate.ts';
import { registerSignOut } from './commands/sign-out.ts';
import { registerStatus } from './commands/status.ts';
import { registerUnlock } from './commands/unlock.ts';
import { registerWorker } from './commands/worker.ts';

const program = new Command('presence')
  .description('Operator commands for agent-presence (DATABASE_URL, or the local cluster in .data/postgres).')
  .showHelpAfterError()
  // `presence cron install --json`: an option after a subcommand belongs to that subcommand.
  .enablePositionalOptions();

// In the order `presence --help` lists them.
for (const register of [
  registerMigrate,
  registerCheck,
  registerCreateTenant,
  registerCreateAgent,
  registerMarkOffline,
  registerSignOut,
  registerUnlock,
  registerStatus,
  registerCron,
  registerWorker,
]) {
  register(program);
}

program.parseAsync().catch((error: unknown) => {
  const hint = (error as { hint?: unknown }).hint;
  console.error(`presence: ${error instanceof Error ? error.message : String(error)}${typeof hint === 'string' ? `\n  ${hint}` : ''}`);
  process.exitCode = 1;
});
