// npm run bench [-- --quick] [-- --only sql|http]
// Starts a throwaway durable PostgreSQL cluster (or uses DATABASE_URL), measures the sweep, HOT updates and
// the HTTP heartbeat path against its baselines, writes bench/results/latest.json and prints a markdown table.
import { parseArgs } from 'node:util';
import { openBenchDatabase } from './cluster.ts';
import { measureHot } from './hot.ts';
import { measureSweep } from './sweep.ts';

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    only: { type: 'string' },
  },
});
const quick = values.quick!;
const only = values.only as 'sql' | 'http' | undefined;
const log = (m: string) => console.error(`[bench ${new Date().toISOString().slice(11, 19)}] ${m}`);

const db = await openBenchDatabase(process.env.DATABASE_URL);
try {
  log(`database ready (${db.own ? 'throwaway cluster' : 'DATABASE_URL'}): ${JSON.stringify(db.settings)}`);
  if (only !== 'http') {
    const hotUrl = await db.createDatabase('presence_hot');
    const hot = await measureHot(hotUrl, {
      agents: quick ? 20_000 : 100_000,
      beats: quick ? 200_000 : 1_000_000,
      connections: 8,
      batch: 100,
      timeLimitS: quick ? 20 : 150,
      log,
    });
    const sweep = process.env.BENCH_SKIP_SWEEP ? null : await measureSweep(db.url, { runs: quick ? 3 : 5, log });
    console.log(JSON.stringify({ hot, sweep }, null, 2));
  }
} finally {
  await db.stop();
}
