// When a long-running command (npm start, npx presence worker) is asked to stop: SIGINT or SIGTERM to this process,
// or the end of the process that started it. A supervisor, Docker's `CMD ["npm", "start"]` or `kill <pid>` signals
// the pid it started, npm's, and npm hands the signal to its child alone: `npm start` execs node (package.json), so
// node is that child; `npx presence worker` runs `sh -c 'presence' worker`, and Debian's dash forks instead of
// exec'ing, so SIGTERM ends the shell and leaves this process orphaned, serving on. The parent changing is then the
// request to stop. (SIGINT the shell holds until its child exits: docs/cli.md says how a supervisor avoids it.)

/** Calls `stop` with the signal's name, or 'parent exited', on every request to stop (the parent's end once). */
export function onStopRequest(stop: (reason: string) => void): void {
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => stop(signal));
  const parent = process.ppid;
  const watch = setInterval(() => {
    if (process.ppid === parent) return;
    clearInterval(watch);
    stop('parent exited');
  }, 250);
  watch.unref();
}
