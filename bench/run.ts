// npm run bench [-- --quick] [-- --only sql|http] [-- --duration S --rounds N --variants heartbeat,noop]
//               [-- --out FILE (instead of bench/results/latest.json)]
// Starts a throwaway durable PostgreSQL cluster (or uses DATABASE_URL), measures HOT updates, the sweep and
// the HTTP heartbeat path against its baselines, writes bench/results/latest.json and prints a markdown table.
// --quick (under 2 minutes) beats 200k times over 20k agents instead of 1M over 100k, runs every HTTP variant
// once for 4 s instead of five times for 6 s and takes the sweep median of 3 runs instead of 5.
import { parseArgs } from 'node:util';
import { openBenchDatabase } from './cluster.ts';
import { measureHot } from './hot.ts';
import { measureHttp } from './http.ts';
import { buildReport, machineNow, markdownTable, writeReport } from './report.ts';
import type { Variant } from './server.ts';
import { measureSweep } from './sweep.ts';

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    only: { type: 'string' },
    duration: { type: 'string' },
    rounds: { type: 'string' },
    variants: { type: 'string' },
    out: { type: 'string' },
  },
});
const quick = values.quick!;
const only = values.only as 'sql' | 'http' | undefined;
const log = (m: string) => console.error(`[bench ${new Date().toISOString().slice(11, 19)}] ${m}`);

const started = Date.now();
const machine = machineNow();
const db = await openBenchDatabase(process.env.DATABASE_URL);
try {
  log(`database ready (${db.own ? 'throwaway cluster' : 'DATABASE_URL'}): ${JSON.stringify(db.settings)}`);
  const hot =
    only === 'http'
      ? null
      : await measureHot(await db.createDatabase('presence_hot'), {
          agents: quick ? 20_000 : 100_000,
          // Under DATABASE_URL the HOT test shares the database with the sweep: agents 2M+ stay out of its way.
          firstAgent: db.own ? 1 : 2_000_001,
          beats: quick ? 200_000 : 1_000_000,
          connections: 8,
          batch: 100,
          timeLimitS: quick ? 20 : 150,
          log,
        });
  const sweep = only === 'http' ? null : await measureSweep(db.url, { runs: quick ? 3 : 5, log });
  const http =
    only === 'sql'
      ? null
      : await measureHttp(db.url, {
          connections: 50,
          durationS: Number(values.duration ?? (quick ? 4 : 6)),
          warmupS: quick ? 1 : 2,
          rounds: Number(values.rounds ?? (quick ? 1 : 5)),
          variants: values.variants?.split(',') as Variant[] | undefined,
          log,
        });
  if (hot && sweep && http && !values.variants) {
    const report = buildReport({
      quick,
      started,
      machine,
      database: { own_cluster: db.own, settings: db.settings },
      http,
      sweep,
      hot,
    });
    const file = writeReport(report, values.out);
    console.log(markdownTable(report));
    log(`wrote ${file}`);
  } else {
    console.log(JSON.stringify({ hot, sweep, http }, null, 2));
  }
} finally {
  await db.stop();
}
