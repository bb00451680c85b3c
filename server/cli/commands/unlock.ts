// `presence unlock`: a sign-in lock lifted before its 15 minutes pass.
import type { Command } from 'commander';
import { withDatabase } from '../database.ts';
import { jsonOption, print, type Output } from '../output.ts';
import { liftSignInLock } from '../sql/lift-sign-in-lock.ts';

export function registerUnlock(program: Command): void {
  program
    .command('unlock')
    .description(
      'lift a sign-in lock before its 15 minutes pass: forget the failed sign-ins of an account (from every address, or from --address only), or with --address alone every failure from that address',
    )
    .option('--email <email>', "the account's e-mail as it was typed (any case; known or not)")
    .option('--address <address>', 'the client address as the server saw it (behind TRUST_PROXY: the X-Forwarded-For address)')
    .addOption(jsonOption())
    .action(async (opts: { email?: string; address?: string } & Output) => {
      if (opts.email === undefined && opts.address === undefined) throw new Error('unlock needs --email, --address or both');
      const cleared = await withDatabase((db) => liftSignInLock(db, opts.email ?? null, opts.address ?? null));
      const which = [opts.email, opts.address === undefined ? undefined : `from ${opts.address}`].filter(Boolean).join(' ');
      print(
        opts,
        { email: opts.email ?? null, address: opts.address ?? null, cleared },
        cleared > 0 ? `${which}: ${cleared} failed sign-in(s) forgotten, the lock is lifted` : `${which}: no failed sign-ins to forget`,
      );
    });
}
