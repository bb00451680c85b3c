// What npm start prints once it is up: where it serves, from what database, who sweeps, the client, and the demo's
// sign-ins.
import type { AddressInfo } from 'node:net';
import type { SweepScheduler } from '../../db/sql/sweep-scheduler.ts';
import { DEMO_PASSWORD, type seedDemo } from '../seed.ts';
import { PROCESS_HEADER, serverUrl } from './here.ts';

export interface Started {
  address: AddressInfo;
  host: string | undefined;
  /** How many processes serve (WEB_CONCURRENCY). */
  processes: number;
  database: string;
  sweep: SweepScheduler;
  clientDir: string | null;
  /** The demo tenant, or null when npm start does not seed it (on DATABASE_URL). */
  demo: Awaited<ReturnType<typeof seedDemo>> | null;
}

export function upBanner({ address, host, processes, database, sweep, clientDir, demo }: Started): string {
  return [
    '',
    `agent-presence is up at ${serverUrl(address, host)}`,
    ...(processes > 1 ? [`  serving:   ${processes} processes (WEB_CONCURRENCY), each answer names its own in ${PROCESS_HEADER}`] : []),
    `  database:  ${database}`,
    `  sweep:     ${sweep.scheduler === 'graphile-worker' ? 'graphile-worker cron in this process, every minute' : `pg_cron job presence-sweep, schedule '${sweep.schedule}'${sweep.here ? '' : ` (in database ${sweep.database_name})`}`}`,
    `  client:    ${clientDir ? clientDir : 'none (no client/index.html)'}`,
    ...(demo
      ? [
          `  demo sign-ins (password "${DEMO_PASSWORD}")${demo.created ? ', created now' : ''}:`,
          ...demo.signIns.map((s) => `    ${s.email.padEnd(32)} ${s.name} (${s.role})`),
          // The ghost story is true only of a demo seeded now: the first sweep ends it.
          ...(demo.created
            ? [
                '  Jordan Lee is stuck "available" from a browser gone for two hours, holding 2 of 5 chats: the first',
                '  sweep records Jordan offline since two hours ago and returns both chats to the queue.',
              ]
            : []),
        ]
      : ['  demo:      not seeded on DATABASE_URL (PRESENCE_DEMO=true seeds it); add people with npx presence']),
    '',
  ].join('\n');
}
