// The soak itself: the steady load for --duration s, sampled every --sample s, judged for growth after a minute of
// warm-up.
import { cpus } from 'node:os';
import { round, sleep, trend, tally, type Trend } from '../../stats.ts';
import { harness } from '../harness.ts';
import { BeatLoad, Churn } from '../load.ts';
import { log, type Options } from '../options.ts';
import { writeSoak } from '../report.ts';
import { sample, TABLES, type Sample } from '../samplers.ts';

export async function soak(o: Options): Promise<void> {
  const h = await harness(o);
  const rate = o.agents / o.intervalS;
  const load = new BeatLoad(h.base, h.agents, rate);
  const churn = new Churn(h.base, h.agents, o.churnPerS);
  const samples: Sample[] = [];
  const t0 = Date.now();
  log(`soak for ${o.durationS} s: ${o.agents} agents beating every ${o.intervalS} s (${round(rate)} beats/s), ${h.streams.length} streams, ${o.churnPerS} sign-out and sign-in a second`);
  const done = load.start(o.durationS);
  churn.start();
  let from = t0;
  const sampler = setInterval(() => {
    const to = Date.now();
    void sample(h, load, t0, from, to).then(
      (s) => {
        samples.push(s);
        log(`t=${s.t}s rss ${s.rss_mb} MB heap ${s.heap_used_mb} MB loop p99 ${s.event_loop_p99_ms} ms conns ${s.db_connections} beats ${s.beats} (p99 ${s.beat_p99_ms} ms) events ${s.tables['presence.status_events']!.rows}`);
      },
      (error: unknown) => log(`sample failed: ${String(error)}`),
    );
    from = to;
  }, o.sampleS * 1000);
  const result = await done;
  clearInterval(sampler);
  churn.stop();
  await sleep(500);

  const warm = samples.filter((s) => s.t >= 60);
  const series = (pick: (s: Sample) => number) => trend(warm.map((s) => [s.t, pick(s)] as [number, number]));
  const trends: Record<string, Trend> = {
    rss_mb: series((s) => s.rss_mb),
    heap_used_mb: series((s) => s.heap_used_mb),
    event_loop_p99_ms: series((s) => s.event_loop_p99_ms),
    db_connections: series((s) => s.db_connections),
    open_streams: series((s) => s.open_streams),
    beat_p99_ms: series((s) => s.beat_p99_ms),
  };
  for (const table of TABLES) {
    trends[`${table} rows`] = series((s) => s.tables[table]!.rows);
    trends[`${table} kB (table + indexes)`] = series((s) => s.tables[table]!.table_kb + s.tables[table]!.index_kb);
  }
  const report = {
    when: new Date(t0).toISOString(),
    machine: { cpus: cpus().length, model: cpus()[0]?.model, load_average_start: samples[0]?.load_average, load_average_end: samples.at(-1)?.load_average },
    options: o,
    load: {
      beats_per_s_target: round(rate),
      beats: load.answers.length,
      statuses: tally(load.answers),
      errors: load.errors.length,
      p50_ms: result.latency.p50,
      p99_ms: result.latency.p99,
      streams: h.streams.length,
      stream_status_events: h.streams.reduce((n, s) => n + s.statusEvents, 0),
      stream_reconnects: h.streams.reduce((n, s) => n + s.reconnects, 0),
      sign_outs: churn.signOuts,
      sign_ins: churn.signIns,
      failed_sign_ins: churn.failedSignIns,
      churn_errors: churn.errors,
      server_warnings: h.server.warnings().lines.length,
    },
    trends,
    samples,
  };
  writeSoak(report);
  await h.close();
}
