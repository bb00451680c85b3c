// `presence create-tenant`: a tenant of the standalone server's own accounts.
import type { Command } from 'commander';
import { withDatabase } from '../database.ts';
import { jsonOption, print, type Output } from '../output.ts';
import { createTenant } from '../../../db/sql/create-tenant.ts';

export function registerCreateTenant(program: Command): void {
  program
    .command('create-tenant')
    .description('create a tenant (default presence settings); for the standalone server\'s own accounts')
    .requiredOption('--name <name>', 'tenant name')
    .addOption(jsonOption())
    .action(async (opts: { name: string } & Output) => {
      const id = await withDatabase((db) => createTenant(db, opts.name));
      print(opts, { id }, `created tenant ${opts.name}: ${id}`);
    });
}
