// How many live streams a process holds by default: each is an open socket, so a file descriptor. At the process's
// descriptor limit every new connection (beats, sign-ins, /healthz, the pool's) is refused or reset; streams take at
// most a quarter of the limit, so three quarters stay for everything else.
import { readFileSync } from 'node:fs';

const CAP = 5_000;
/** Where the limit cannot be read (not Linux): what a 4,096-descriptor process allows. */
const FALLBACK = 1_000;

export function defaultMaxStreams(limit: number | null = descriptorLimit()): number {
  if (limit === null) return FALLBACK;
  return Math.max(1, Math.min(CAP, Math.floor(limit / 4)));
}

/** The soft limit on open files of this process (Node raises it to the hard limit at start), or null. */
export function descriptorLimit(): number | null {
  try {
    const line = /^Max open files\s+(\d+|unlimited)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
    if (!line) return null;
    return line[1] === 'unlimited' ? Number.MAX_SAFE_INTEGER : Number(line[1]);
  } catch {
    return null;
  }
}
