// `presence create-agent`: a user who signs in to the standalone server, an agent unless a supervisor.
import { Option, type Command } from 'commander';
import { requireTenant, withDatabase } from '../database.ts';
import { jsonOption, positiveInt, print, type Output } from '../output.ts';
import { createAccount } from '../../../db/sql/create-account.ts';
import type { Role } from '../../http/contract.ts';

export function registerCreateAgent(program: Command): void {
  program
    .command('create-agent')
    .description('create a user who signs in to the standalone server; support_staff and client_admin are agents, supervisor only watches')
    .requiredOption('--tenant <id>', 'tenant id')
    .requiredOption('--email <email>', 'sign-in e-mail (unique)')
    .requiredOption('--name <name>', 'display name')
    .requiredOption('--password <password>', 'initial password, at least 8 characters (hashed with bcrypt in the database)')
    .addOption(new Option('--role <role>', 'role').choices(['support_staff', 'client_admin', 'supervisor']).default('support_staff'))
    .option('--max-chats <n>', 'most chats at once', positiveInt, 5)
    .addOption(jsonOption())
    .action(
      async (opts: { tenant: string; email: string; name: string; password: string; role: Role; maxChats: number } & Output) => {
        const account = await withDatabase(async (db) => {
          await requireTenant(db, opts.tenant);
          return createAccount(db, { ...opts, tenantId: opts.tenant });
        });
        print(
          opts,
          { id: account.agentId, userId: account.userId },
          `created ${opts.role} ${opts.name} <${opts.email}>: ${account.agentId ? `agent ${account.agentId}, ` : ''}user ${account.userId}`,
        );
      },
    );
}
