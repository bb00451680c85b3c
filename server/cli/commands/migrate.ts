// `presence migrate`: graphile-worker's schema, then presence's migrations, and who sweeps.
import type { Command } from 'commander';
import { describeSweep, migrate } from '../../../db/migrate.ts';
import { databaseUrl } from '../database.ts';
import { jsonOption, print, type Output } from '../output.ts';

export function registerMigrate(program: Command): void {
  program
    .command('migrate')
    .description("apply presence's migrations to the database (a platform's tables public.tenants and public.human_agents are adopted, never dropped or retyped)")
    .addOption(jsonOption())
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
}
