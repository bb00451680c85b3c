// CPU time from /proc (Linux): of given processes, of a PostgreSQL server (postmaster and every backend), and of the
// whole machine, so that a step can say where its CPU went, per request, including what other work took.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const TICK_US = 1e6 / 100; // USER_HZ is 100 on Linux

/** User and kernel CPU time of a process in µs, or zeros once it is gone. */
export function processCpuUs(pid: number): { user: number; system: number } {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { user: Number(fields[11]) * TICK_US, system: Number(fields[12]) * TICK_US };
  } catch {
    return { user: 0, system: 0 };
  }
}

/** The children of a process (one level). */
export function childPids(pid: number): number[] {
  const pids: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) pids.push(Number(name));
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

/** The postmaster of the cluster in `dataDir` (as its postmaster.pid says now) and every backend. */
export function postgresPids(dataDir: string): number[] {
  const postmaster = Number(readFileSync(join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
  return [postmaster, ...childPids(postmaster)];
}

/** Busy and total CPU time of the machine, µs (all cores). */
export function machineCpuUs(): { busy: number; total: number } {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.split(/\s+/).slice(1).map(Number);
  const [user, nice, system, idle, iowait, irq, softirq, steal] = line as [number, number, number, number, number, number, number, number];
  const busy = user + nice + system + irq + softirq + steal;
  return { busy: busy * TICK_US, total: (busy + idle + iowait) * TICK_US };
}

/**
 * CPU counters of named groups of processes. A group's pids are found again at each sample (`pids()`), so that
 * backends a pool opened meanwhile count; a process that exits between samples loses its time (pools keep theirs).
 */
export class CpuMeter {
  constructor(private readonly groups: Record<string, () => number[]>) {}

  sample(): CpuSample {
    const groups: Record<string, Map<number, { user: number; system: number }>> = {};
    for (const [name, pids] of Object.entries(this.groups)) {
      groups[name] = new Map(pids().map((pid) => [pid, processCpuUs(pid)]));
    }
    return { at: performance.now(), machine: machineCpuUs(), groups };
  }

  /**
   * µs of CPU per group between two samples (user and kernel; over loopback TCP the kernel's share is large), counting
   * processes alive at both, plus the machine's busy time.
   */
  static between(
    a: CpuSample,
    b: CpuSample,
  ): { seconds: number; machine_busy_us: number; machine_total_us: number; groups: Record<string, number>; system: Record<string, number> } {
    const groups: Record<string, number> = {};
    const system: Record<string, number> = {};
    for (const [name, after] of Object.entries(b.groups)) {
      const before = a.groups[name] ?? new Map<number, { user: number; system: number }>();
      let us = 0;
      let sys = 0;
      for (const [pid, cpu] of after) {
        const was = before.get(pid);
        if (!was) continue;
        us += cpu.user - was.user + cpu.system - was.system;
        sys += cpu.system - was.system;
      }
      groups[name] = us;
      system[name] = sys;
    }
    return {
      seconds: (b.at - a.at) / 1000,
      machine_busy_us: b.machine.busy - a.machine.busy,
      machine_total_us: b.machine.total - a.machine.total,
      groups,
      system,
    };
  }
}

export interface CpuSample {
  at: number;
  machine: { busy: number; total: number };
  groups: Record<string, Map<number, { user: number; system: number }>>;
}
