// When a long-running command (npm start, npx presence worker) is asked to stop: SIGINT or SIGTERM to this process,
// or the end of the process that started it. A supervisor, Docker's `CMD ["npm", "start"]` or `kill <pid>` signals
// the pid it started, npm's, and npm hands the signal to its child alone: `npm start` execs node (package.json), so
// node is that child; `npx presence worker` runs `sh -c 'presence' worker`, and Debian's dash forks instead of
// exec'ing, so SIGTERM ends the shell and leaves this process orphaned, running on. The parent changing is then the
// request to stop. (SIGINT the shell holds until its child exits: docs/cli.md says how a supervisor avoids it.)
import type { Logger } from 'pino';

/**
 * A signal within this long of the first is the same request delivered twice: Ctrl-C in a terminal signals the
 * whole process group, so node hears it from the terminal and again from npm, which forwards it. Taken for a second
 * Ctrl-C, it exited at once and left the cluster running without a "stopped" line.
 */
const SAME_REQUEST_MS = 1_000;

/**
 * Calls `stop` with the signal's name, or 'parent exited', on every request to stop (the parent's end once); a
 * signal repeated within SAME_REQUEST_MS of the first is not a new request.
 */
export function onStopRequest(stop: (reason: string) => void): void {
  let first: number | null = null;
  const request = (reason: string) => {
    const now = Date.now();
    if (first !== null && now - first < SAME_REQUEST_MS) return;
    first ??= now;
    stop(reason);
  };
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => request(signal));
  const parent = process.ppid;
  const watch = setInterval(() => {
    if (process.ppid === parent) return;
    clearInterval(watch);
    request('parent exited');
  }, 250);
  watch.unref();
}

/**
 * npm start's requests to stop. One that comes while starting (a supervisor stopping a container that is still
 * migrating) is kept until `up` is called, then carried out in order: dying of the signal would leave the cluster
 * running. A second one while starting exits at once.
 */
export function stopOnceUp(logger: Logger): { up(stop: (reason: string) => void): void } {
  let pending: string | null = null;
  let stop: ((reason: string) => void) | null = null;
  onStopRequest((reason) => {
    if (stop) return stop(reason);
    if (pending) process.exit(1);
    pending = reason;
    logger.info({ reason }, 'stopping once started');
  });
  return {
    up(carryOut) {
      stop = carryOut;
      if (pending) carryOut(pending);
    },
  };
}
