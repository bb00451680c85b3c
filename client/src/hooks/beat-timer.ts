// A one-shot "wake me in N ms" for the heartbeat, run by a dedicated Web Worker so hidden tabs keep their pace.
// Where workers are missing (jsdom, very old browsers) the page's own setTimeout stands in.

export type TimerCommand = { type: 'schedule'; id: number; delayMs: number } | { type: 'cancel' };
export type TimerTick = { type: 'tick'; id: number };

export interface BeatTimer {
  /** Calls onTick once after delayMs, replacing any earlier schedule. */
  schedule(delayMs: number): void;
  cancel(): void;
  /** Cancels and releases the worker; the timer is unusable afterwards. */
  dispose(): void;
}

export type BeatTimerFactory = (onTick: () => void) => BeatTimer;

export const createBeatTimer: BeatTimerFactory = (onTick) => {
  if (typeof Worker === 'undefined') return createPageTimer(onTick);
  return createWorkerTimer(onTick);
};

export function createWorkerTimer(onTick: () => void): BeatTimer {
  const worker = new Worker(new URL('./heartbeat-timer.worker.ts', import.meta.url), {
    type: 'module',
    name: 'heartbeat-timer',
  });
  // Ticks of a replaced or cancelled schedule may already be on their way: only the current one counts.
  let current = 0;
  worker.onmessage = (event: MessageEvent<TimerTick>) => {
    if (event.data.type === 'tick' && event.data.id === current) {
      current = 0;
      onTick();
    }
  };
  let nextId = 0;
  return {
    schedule(delayMs) {
      current = ++nextId;
      worker.postMessage({ type: 'schedule', id: current, delayMs } satisfies TimerCommand);
    },
    cancel() {
      current = 0;
      worker.postMessage({ type: 'cancel' } satisfies TimerCommand);
    },
    dispose() {
      current = 0;
      worker.onmessage = null;
      worker.terminate();
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
