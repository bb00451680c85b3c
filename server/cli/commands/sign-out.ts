// `presence sign-out`: a standalone-server user signed out everywhere.
import type { Command } from 'commander';
import { withDatabase } from '../database.ts';
import { jsonOption, print, type Output } from '../output.ts';
import { revokeSignIns, userIdWithEmail } from '../sql/sign-out.ts';

export function registerSignOut(program: Command): void {
  program
    .command('sign-out')
    .description('sign a standalone-server user out everywhere: revoke all of its sign-in sessions (its tabs and live streams end at once)')
    .requiredOption('--email <email>', "the user's e-mail")
    .addOption(jsonOption())
    .action(async (opts: { email: string } & Output) => {
      const result = await withDatabase(async (db) => {
        const userId = await userIdWithEmail(db, opts.email);
        if (userId === null) throw new Error(`no user with e-mail ${opts.email}`);
        return { userId, revoked: await revokeSignIns(db, userId) };
      });
      print(opts, result, `${opts.email}: ${result.revoked} sign-in session(s) revoked`);
    });
}
