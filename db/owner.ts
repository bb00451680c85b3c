// Who runs a local database server (the project's cluster or embedded PostgreSQL): a small file next to its data
// folder, `<dataDir>.owner`. `npm start` records its process there and `npm run db:start` records the developer.
// A server running with no live owner (left by a crashed run, or started by a CLI command) is taken over by the
// next `npm start`, which stops it on exit. A live owner keeps it: a second `npm start` uses the server and
// leaves it running.
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

export type OwnerKind = 'npm start' | 'npm run db:start';

interface OwnerRecord {
  by: OwnerKind;
  /** npm start's process; a db:start record has none and holds until db:stop or until the server stops. */
  pid?: number;
  /** The process's start time from /proc, so that a pid the system reused is not taken for the owner. */
  startTime?: string | null;
}

export type Claim =
  /** This process owns the server now; `release` gives it up (after stopping the server). */
  | { claimed: true; release: () => void }
  /** Someone alive owns it; `holder` says who, for the start-up line. */
  | { claimed: false; holder: string };

function ownerFile(dataDir: string): string {
  return `${dataDir}.owner`;
}

function processStartTime(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name, which is in parentheses and may contain anything: field 22 is the start time.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? null;
  } catch {
    return null;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: the process exists but belongs to another user.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The postmaster process serving dataDir, when one is alive. */
export function runningPostmaster(dataDir: string): number | null {
  const pidFile = join(dataDir, 'postmaster.pid');
  if (!existsSync(pidFile)) return null;
  const pid = Number(readFileSync(pidFile, 'utf8').split('\n')[0]);
  return Number.isInteger(pid) && pid > 0 && isAlive(pid) ? pid : null;
}

/** Who holds the server in dataDir, if anyone alive does. */
function liveHolder(dataDir: string, text: string): string | null {
  let record: OwnerRecord;
  try {
    record = JSON.parse(text) as OwnerRecord;
  } catch {
    return null;
  }
  if (record.pid === undefined) return record.by === 'npm run db:start' && runningPostmaster(dataDir) ? record.by : null;
  if (!isAlive(record.pid)) return null;
  const startTime = processStartTime(record.pid);
  if (record.startTime && startTime && startTime !== record.startTime) return null;
  return `${record.by} (pid ${record.pid})`;
}

function readOwnerFile(dataDir: string): string | null {
  try {
    return readFileSync(ownerFile(dataDir), 'utf8');
  } catch {
    return null;
  }
}

/**
 * Records `by` as the owner of the server in dataDir unless someone alive holds it. A record left by a dead
 * process (a crashed run) is replaced.
 */
export function claimServer(dataDir: string, by: OwnerKind): Claim {
  const record: OwnerRecord = by === 'npm start' ? { by, pid: process.pid, startTime: processStartTime(process.pid) } : { by };
  const text = `${JSON.stringify(record)}\n`;
  mkdirSync(dirname(dataDir), { recursive: true });
  for (let attempt = 0; attempt < 3; attempt += 1) {
    try {
      writeFileSync(ownerFile(dataDir), text, { flag: 'wx' });
      return {
        claimed: true,
        release: () => {
          if (readOwnerFile(dataDir) === text) rmSync(ownerFile(dataDir), { force: true });
        },
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const found = readOwnerFile(dataDir);
    if (found === null) continue;
    const holder = liveHolder(dataDir, found);
    if (holder) return { claimed: false, holder };
    // A stale record: remove it, unless another process replaced it meanwhile.
    if (readOwnerFile(dataDir) === found) rmSync(ownerFile(dataDir), { force: true });
  }
  throw new Error(`could not record this process as the owner of the server in ${dataDir} (${ownerFile(dataDir)})`);
}

/** Forgets any owner (npm run db:stop, after stopping the server). */
export function forgetOwner(dataDir: string): void {
  rmSync(ownerFile(dataDir), { force: true });
}
