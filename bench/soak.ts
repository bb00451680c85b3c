// npm run soak: the real server (npm start's pieces: the app login, the presence router behind this project's
// sign-in, the graphile-worker, in a child process of its own) on a PostgreSQL cluster of the run's own (durable,
// pg_cron sweeping every minute), under a steady open-loop load: every agent beats once per heartbeat interval
// (autocannon at a fixed overall rate, one cookie and tab per agent), supervisors keep live streams open, agents sign
// out and in again, and a few sign-ins fail. Not part of CI.
//
//   npm run soak                              the soak: 10 minutes, sampled every 10 s
//   npm run soak -- --duration 120            a shorter one
//   npm run soak -- --scenario restart        PostgreSQL restarted under load (pg_ctl restart -m fast)
//   npm run soak -- --scenario crash          PostgreSQL killed under load and recovered (pg_ctl restart -m immediate)
//   npm run soak -- --scenario kill           kill -9 of the server under load, with chats; the database checked after
//   npm run soak -- --scenario frozen         every PostgreSQL process stopped (SIGSTOP) for 20 s, then continued
//   npm run soak -- --scenario timing         sign-in time of a wrong password against an unknown e-mail (bcrypt 10)
//   npm run soak -- --scenario faults         the five above, one after the other (about 6 minutes)
//   npm run soak -- --scenario flood          40 loops of anonymous wrong passwords from rotating 127/8 addresses
//                                             (bcrypt 10) for --duration s (60) after 30 s quiet: beat times quiet
//                                             against flood, sign-ins answered, faults-flood.json
//   options: --agents 3000 --tenants 10 --supervisors 5 (per tenant) --interval 30 (s) --churn 1 (sign-outs/s)
//
// The soak samples the server's RSS, heap and event-loop delay (its /metrics), the database's connections
// (pg_stat_activity) and the size of the tables that could grow, and writes bench/results/soak.json and soak.md
// with first, last and max of each, the slope and whether it is flat. The scenarios write faults.json (one
import { log, options, type Options, type Scenario } from './soak/options.ts';
import { writeFaults } from './soak/report.ts';
import { floodScenario } from './soak/scenarios/flood.ts';
import { frozenScenario } from './soak/scenarios/frozen.ts';
import { killScenario } from './soak/scenarios/kill.ts';
import { restartScenario } from './soak/scenarios/restart.ts';
import { soak } from './soak/scenarios/soak.ts';
import { timingScenario } from './soak/scenarios/timing.ts';

async function faults(o: Options, which: Scenario[]): Promise<void> {
  const results: Record<string, unknown> = {};
  const when = new Date().toISOString();
  for (const scenario of which) {
    log(`scenario ${scenario}`);
    results[scenario] =
      scenario === 'restart' ? await restartScenario(o, 'fast')
      : scenario === 'crash' ? await restartScenario(o, 'immediate')
      : scenario === 'kill' ? await killScenario(o)
      : scenario === 'frozen' ? await frozenScenario(o)
      : scenario === 'flood' ? await floodScenario(o)
      : await timingScenario(o);
    console.log(JSON.stringify(results[scenario], null, 2));
  }
  writeFaults(o, which, when, results);
}

const o = options(process.argv.slice(2));
if (o.scenario === 'soak') await soak(o);
else await faults(o, o.scenario === 'faults' ? ['restart', 'crash', 'kill', 'frozen', 'timing'] : [o.scenario]);
process.exit(0);
