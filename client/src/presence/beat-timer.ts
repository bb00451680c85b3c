// A one-shot "wake me in N ms" for the heartbeat, kept by a dedicated Web Worker: Chrome throttles chained timers of
// a tab hidden for 5 minutes to one wake-up a minute, slower than the beat; timers in a dedicated worker are not
// throttled that way. Where no worker can run, the page's own setTimeout stands in: jsdom, a browser without Blob
// URLs, or a Content-Security-Policy whose worker-src leaves out blob: (then the worker fails to start, and the
// schedule it held moves to the page's timer).
//
// The worker is built from a Blob of its own few lines, not from a file next to this module: a separate worker
// file would need every bundler that takes this package from node_modules to find, copy and serve it.

/** The worker's whole program, plain JavaScript. One pending wake-up at a time: `schedule` replaces it, `cancel`
 * drops it; each tick names the schedule it answers. */
export const timerWorkerSource = `"use strict";
var pending;
self.onmessage = function (event) {
  var command = event.data;
  clearTimeout(pending);
  pending = undefined;
  if (command.type === "schedule") {
    var id = command.id;
    pending = setTimeout(function () {
      pending = undefined;
      self.postMessage({ type: "tick", id: id });
    }, command.delayMs);
  }
};
`;

type TimerCommand = { type: 'schedule'; id: number; delayMs: number } | { type: 'cancel' };
type TimerTick = { type: 'tick'; id: number };

export interface BeatTimer {
  /** Calls onTick once after delayMs, replacing any earlier schedule. */
  schedule(delayMs: number): void;
  cancel(): void;
  /** Cancels and releases the worker; the timer is unusable afterwards. */
  dispose(): void;
}

export type BeatTimerFactory = (onTick: () => void) => BeatTimer;

/** The worker timer where the browser can run it, else the page's timer. */
export const createBeatTimer: BeatTimerFactory = (onTick) => {
  const url = timerWorkerUrl();
  if (url === null) return createPageTimer(onTick);
  try {
    return createWorkerTimer(onTick, url);
  } catch {
    // Some browsers refuse a worker their Content-Security-Policy forbids at once, with a SecurityError.
    return createPageTimer(onTick);
  }
};

let workerUrl: string | undefined;

/** One Blob URL of the worker's source for the page's life (a few hundred bytes), or null where there is none. */
function timerWorkerUrl(): string | null {
  if (typeof Worker === 'undefined' || typeof Blob === 'undefined') return null;
  if (typeof URL === 'undefined' || typeof URL.createObjectURL !== 'function') return null;
  workerUrl ??= URL.createObjectURL(new Blob([timerWorkerSource], { type: 'text/javascript' }));
  return workerUrl;
}

export function createWorkerTimer(onTick: () => void, scriptUrl: string): BeatTimer {
  let worker: Worker | null = new Worker(scriptUrl, { name: 'heartbeat-timer' });
  let fallback: BeatTimer | null = null;
  // Ticks of a replaced or cancelled schedule may already be on their way: only the current one counts.
  let current = 0;
  let nextId = 0;
  // When the current schedule is due, so a fallback can take it over.
  let dueAt: number | null = null;

  function release(): void {
    if (!worker) return;
    worker.onmessage = null;
    worker.onerror = null;
    worker.terminate();
    worker = null;
  }

  worker.onmessage = (event: MessageEvent<TimerTick>) => {
    if (event.data.type === 'tick' && event.data.id === current) {
      current = 0;
      dueAt = null;
      onTick();
    }
  };
  // The worker could not load (blocked by a Content-Security-Policy) or died: the page's timer from here on.
  worker.onerror = (event: ErrorEvent) => {
    event.preventDefault();
    release();
    fallback = createPageTimer(onTick);
    if (dueAt !== null) fallback.schedule(Math.max(0, dueAt - Date.now()));
    current = 0;
    dueAt = null;
  };

  return {
    schedule(delayMs) {
      if (fallback) return fallback.schedule(delayMs);
      current = ++nextId;
      dueAt = Date.now() + delayMs;
      worker?.postMessage({ type: 'schedule', id: current, delayMs } satisfies TimerCommand);
    },
    cancel() {
      if (fallback) return fallback.cancel();
      current = 0;
      dueAt = null;
      worker?.postMessage({ type: 'cancel' } satisfies TimerCommand);
    },
    dispose() {
      fallback?.dispose();
      current = 0;
      dueAt = null;
      release();
    },
  };
}

export function createPageTimer(onTick: () => void): BeatTimer {
  let handle: ReturnType<typeof setTimeout> | undefined;
  const cancel = () => {
    clearTimeout(handle);
    handle = undefined;
  };
  return {
    schedule(delayMs) {
      cancel();
      handle = setTimeout(() => {
        handle = undefined;
        onTick();
      }, delayMs);
    },
    cancel,
    dispose: cancel,
  };
}
