// `presence status`: agents with their derived status and last beat.
import type { Command } from 'commander';
import { toAgent } from '../../presence/sql/agents.ts';
import { requireTenant, withDatabase } from '../database.ts';
import { ago, jsonOption, print, table, type Output } from '../output.ts';
import { agentStatus } from '../sql/agent-status.ts';

export function registerStatus(program: Command): void {
  program
    .command('status')
    .description('agents with their derived status and last beat')
    .option('--tenant <id>', 'only this tenant')
    .addOption(jsonOption())
    .action(async (opts: { tenant?: string } & Output) => {
      const rows = await withDatabase(async (db) => {
        if (opts.tenant !== undefined) await requireTenant(db, opts.tenant);
        return agentStatus(db, opts.tenant ?? null);
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
}
