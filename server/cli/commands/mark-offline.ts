// `presence mark-offline`: one stuck agent offline now (reason admin).
import type { Command } from 'commander';
import { withDatabase } from '../database.ts';
import { jsonOption, print, type Output } from '../output.ts';
import { agentsWithEmail, markOffline } from '../sql/mark-offline.ts';

export function registerMarkOffline(program: Command): void {
  program
    .command('mark-offline')
    .description('take one stuck agent offline now (reason admin); its browser, if really open, brings it back')
    .requiredOption('--email <email>', "the agent's e-mail")
    .option('--tenant <id>', 'tenant id, when the e-mail exists in several tenants')
    .addOption(jsonOption())
    .action(async (opts: { email: string; tenant?: string } & Output) => {
      const result = await withDatabase(async (db) => {
        const agents = await agentsWithEmail(db, opts.email, opts.tenant ?? null);
        if (agents.length === 0) throw new Error(`no agent with e-mail ${opts.email}${opts.tenant ? ` in tenant ${opts.tenant}` : ''}`);
        if (agents.length > 1) {
          throw new Error(`${opts.email} is an agent in several tenants (${agents.map((a) => a.tenant_id).join(', ')}): add --tenant`);
        }
        const agent = agents[0]!;
        await markOffline(db, agent.tenant_id, agent.id);
        return { id: agent.id, tenantId: agent.tenant_id, from: agent.status, status: 'offline' };
      });
      print(opts, result, `${opts.email} (${result.id}) is offline now (was ${result.from})`);
    });
}
