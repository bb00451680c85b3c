// The soak's reports: soak.json and soak.md for the soak, faults.json (or faults-<scenario>.json) for the scenarios.
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { round, type Trend } from '../stats.ts';
import { log, RESULTS, type Options, type Scenario } from './options.ts';

export type SoakReport = Parameters<typeof soakMarkdown>[0] & { samples: unknown[] };

/** Writes soak.json (everything) and soak.md (the table), and prints the table. */
export function writeSoak(report: SoakReport): void {
  mkdirSync(RESULTS, { recursive: true });
  writeFileSync(join(RESULTS, 'soak.json'), `${JSON.stringify(report, null, 2)}\n`);
  const markdown = soakMarkdown(report);
  writeFileSync(join(RESULTS, 'soak.md'), markdown);
  console.log(`\n${markdown}`);
}

/** Writes the scenarios' results: faults.json for several, faults-<scenario>.json for one. */
export function writeFaults(o: Options, which: Scenario[], when: string, results: Record<string, unknown>): void {
  const report = { when, machine: { cpus: cpus().length, load_average: loadavg().map((x) => round(x, 2)) }, options: o, results };
  mkdirSync(RESULTS, { recursive: true });
  const file = which.length > 1 ? 'faults' : `faults-${which[0]}`;
  writeFileSync(join(RESULTS, `${file}.json`), `${JSON.stringify(report, null, 2)}\n`);
  log(`wrote bench/results/${file}.json`);
}

function soakMarkdown(r: {
  when: string;
  machine: { cpus: number; load_average_start?: number; load_average_end?: number };
  options: Options;
  load: Record<string, unknown>;
  trends: Record<string, Trend>;
}): string {
  const l = r.load;
  const rows = Object.entries(r.trends).map(
    ([name, t]) =>
      `| ${name} | ${t.first} | ${t.last} | ${t.max} | ${t.slope_per_10min} | ${t.noise} | ${t.flat ? 'yes' : 'no'} | ${t.flat_second_half ? 'yes' : 'no'} |`,
  );
  return [
    `# Soak, ${r.when}`,
    '',
    `${r.options.durationS} s on ${r.machine.cpus} cores (load average ${r.machine.load_average_start} at the start, ${r.machine.load_average_end} at the end): ` +
      `${r.options.agents} agents in ${r.options.tenants} tenants beating every ${r.options.intervalS} s (${l.beats_per_s_target} beats/s, open loop), ` +
      `${l.streams} live streams, ${r.options.churnPerS} sign-out and sign-in a second, a failed sign-in every 5 s.`,
    '',
    `Beats: ${l.beats} answered (${JSON.stringify(l.statuses)}), ${l.errors} errors, p50 ${l.p50_ms} ms, p99 ${l.p99_ms} ms. ` +
      `Streams: ${l.stream_status_events} status events received, ${l.stream_reconnects} reconnects. ` +
      `Sign-outs ${l.sign_outs}, sign-ins ${l.sign_ins}, failed sign-ins ${l.failed_sign_ins}, churn errors ${l.churn_errors}. ` +
      `Server log lines at warn or above: ${l.server_warnings}.`,
    '',
    'Samples every 10 s; first, slope and flatness over the samples after the first minute (warm-up).',
    '',
    '| measure | first | last | max | slope per 10 min | noise (sd) | flat | flat, second half |',
    '|---|---:|---:|---:|---:|---:|:---:|:---:|',
    ...rows,
    '',
  ].join('\n');
}
