// Commands as an operator or a supervisor runs them (`npm start`, `npx presence worker`), signalled by the pid that
// was started (npm's, not node's) and not the process group.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { projectRoot } from '../../server/config.ts';

export interface Command {
  child: ChildProcess;
  output: () => string;
  /** The pids that wrote pino lines (node, and the serving processes of WEB_CONCURRENCY). */
  loggingPids: () => number[];
}

/** Spawns `command args…` in the project (its own stdout and stderr) and resolves once `ready` matches its output. */
export async function startCommand(
  command: string,
  args: string[],
  env: Record<string, string>,
  ready: RegExp,
  { ownGroup = false }: { ownGroup?: boolean } = {},
): Promise<Command> {
  const { DATABASE_URL: _ignored, ...inherited } = process.env;
  const child = spawn(command, args, {
    cwd: projectRoot,
    // A process group of its own only for a test that signals the group, as a terminal's Ctrl-C does.
    detached: ownGroup,
    env: { ...inherited, PORT: '0', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (d) => (output += d));
  child.stderr!.on('data', (d) => (output += d));
  const started: Command = {
    child,
    output: () => output,
    loggingPids: () => [...new Set([...output.matchAll(/"pid":(\d+)/g)].map((m) => Number(m[1])))],
  };
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${command} ${args.join(' ')} did not come up:\n${output}`)), 90_000);
    const check = () => {
      if (!ready.test(output)) return;
      clearTimeout(timer);
      resolve();
    };
    child.stdout!.on('data', check);
    child.stderr!.on('data', check);
    child.once('exit', (code) => reject(new Error(`${command} ${args.join(' ')} exited with ${code}:\n${output}`)));
  });
  return started;
}

/** Whether a process runs (a zombie, exited and not yet reaped by init, does not). */
export function isRunning(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

/**
 * Sends `signal` to the started pid only (or to its process group) and waits for it to exit and for every process holding its output to end
 * (at most `ms`). Any process that logged and still runs then is killed (SIGKILL) so that a failing test leaves
 * nothing behind, and reported in `leftRunning`.
 */
export async function signalStarted(
  command: Command,
  signal: NodeJS.Signals,
  ms = 30_000,
  { group = false }: { group?: boolean } = {},
): Promise<{ code: number | null; outputClosed: boolean; leftRunning: number[] }> {
  const exited = new Promise<number | null>((resolve) => command.child.once('exit', (code) => resolve(code)));
  const closed = new Promise<boolean>((resolve) => command.child.once('close', () => resolve(true)));
  if (group) process.kill(-command.child.pid!, signal);
  else command.child.kill(signal);
  const code = await exited;
  const outputClosed = await Promise.race([closed, new Promise<boolean>((resolve) => setTimeout(() => resolve(false), ms))]);
  const leftRunning = command.loggingPids().filter(isRunning);
  for (const pid of leftRunning) process.kill(pid, 'SIGKILL');
  return { code, outputClosed, leftRunning };
}
