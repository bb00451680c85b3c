// How fast the machine is right now, measured the same way before every step: a fixed piece of CPU work (SHA-256 of
// 16 MiB in one thread) and a small durable write (8 KiB written and fsync'd, the median of 5). On a shared machine
// both drift by tens of per cent from one minute to the next (docs/benchmarks.md, "A bench to trust"); a step's
// rate held means little without them, and two runs that disagree can be told apart from a bench that does.
import { createHash } from 'node:crypto';
import { closeSync, fsyncSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { median, round } from './stats.ts';

export interface Probe {
  /** Milliseconds to hash 16 MiB with SHA-256 in this process. */
  cpu_ms: number;
  /** Milliseconds to write 8 KiB and fsync it, median of 5. */
  fsync_ms: number;
}

const BLOCK = Buffer.alloc(64 * 1024, 7);
const PAGE = Buffer.alloc(8 * 1024, 1);

export function probeMachine(): Probe {
  const started = process.hrtime.bigint();
  const hash = createHash('sha256');
  for (let i = 0; i < 256; i++) hash.update(BLOCK);
  hash.digest();
  const cpu_ms = Number(process.hrtime.bigint() - started) / 1e6;

  const dir = mkdtempSync(join(tmpdir(), 'presence-probe-'));
  const fd = openSync(join(dir, 'probe'), 'w');
  try {
    const times: number[] = [];
    for (let i = 0; i < 5; i++) {
      const t = process.hrtime.bigint();
      writeSync(fd, PAGE, 0, PAGE.length, i * PAGE.length);
      fsyncSync(fd);
      times.push(Number(process.hrtime.bigint() - t) / 1e6);
    }
    return { cpu_ms: round(cpu_ms, 2), fsync_ms: round(median(times), 2) };
  } finally {
    closeSync(fd);
    rmSync(dir, { recursive: true, force: true });
  }
}
