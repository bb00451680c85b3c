import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { BeatTimer } from './beat-timer.ts';

// The worker's program, run in a stand-in for the worker's global scope (the page's fake timers are its timers).
function runWorkerSource(source: string) {
  const posted: unknown[] = [];
  const scope: { onmessage: ((event: { data: unknown }) => void) | null; postMessage(message: unknown): void } = {
    onmessage: null,
    postMessage: (message) => posted.push(message),
  };
  new Function('self', source)(scope);
  return { posted, send: (data: unknown) => scope.onmessage!({ data }) };
}

class FakeWorker {
  static all: FakeWorker[] = [];
  onmessage: ((event: MessageEvent) => void) | null = null;
  onerror: ((event: ErrorEvent) => void) | null = null;
  messages: unknown[] = [];
  terminated = false;
  constructor(readonly url: string) {
    FakeWorker.all.push(this);
  }
  postMessage(message: unknown): void {
    this.messages.push(message);
  }
  terminate(): void {
    this.terminated = true;
  }
  /** The browser could not load the script, as when a Content-Security-Policy forbids blob: workers. */
  failToLoad(): void {
    this.onerror?.(new ErrorEvent('error', { cancelable: true }));
  }
}

async function freshModule() {
  // The Blob URL is made once per page: each test gets a new "page".
  vi.resetModules();
  return import('./beat-timer.ts');
}

beforeEach(() => {
  vi.useFakeTimers();
  FakeWorker.all = [];
});

afterEach(() => {
  vi.useRealTimers();
  vi.unstubAllGlobals();
  vi.restoreAllMocks();
});

describe('the beat timer', () => {
  it('runs a worker program that ticks once per schedule, answers only the newest one and drops a cancelled one', async () => {
    // Setup
    const { timerWorkerSource } = await freshModule();
    const worker = runWorkerSource(timerWorkerSource);

    // Action
    worker.send({ type: 'schedule', id: 1, delayMs: 5_000 });
    vi.advanceTimersByTime(2_000);
    worker.send({ type: 'schedule', id: 2, delayMs: 5_000 });
    vi.advanceTimersByTime(4_999);
    const beforeDue = [...worker.posted];
    vi.advanceTimersByTime(1);
    worker.send({ type: 'schedule', id: 3, delayMs: 1_000 });
    worker.send({ type: 'cancel' });
    vi.advanceTimersByTime(10_000);

    // Assertions
    expect(beforeDue).toEqual([]);
    expect(worker.posted).toEqual([{ type: 'tick', id: 2 }]);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('uses the page\u2019s timer where Blob URLs are missing', async () => {
    // Setup: a Worker exists, but URL.createObjectURL does not.
    vi.stubGlobal('Worker', FakeWorker);
    const createObjectURL = Object.getOwnPropertyDescriptor(URL, 'createObjectURL');
    Object.defineProperty(URL, 'createObjectURL', { configurable: true, value: undefined });
    const { createBeatTimer } = await freshModule();
    const onTick = vi.fn();

    // Action
    try {
      const timer = createBeatTimer(onTick);
      timer.schedule(1_000);
      vi.advanceTimersByTime(1_000);
    } finally {
      if (createObjectURL) Object.defineProperty(URL, 'createObjectURL', createObjectURL);
      else delete (URL as { createObjectURL?: unknown }).createObjectURL;
    }

    // Assertions
    expect(FakeWorker.all).toHaveLength(0);
    expect(onTick).toHaveBeenCalledTimes(1);
  });

  it('uses the page\u2019s timer when the browser refuses the worker outright', async () => {
    // Setup: a Content-Security-Policy that some browsers enforce with a SecurityError from the constructor.
    vi.spyOn(URL, 'createObjectURL').mockReturnValue('blob:http://localhost/timer');
    vi.stubGlobal(
      'Worker',
      class {
        constructor() {
          throw new DOMException('blocked by worker-src', 'SecurityError');
        }
      },
    );
    const { createBeatTimer } = await freshModule();
    const onTick = vi.fn();

    // Action
    const timer = createBeatTimer(onTick);
    timer.schedule(1_000);
    vi.advanceTimersByTime(1_000);

    // Assertions
    expect(onTick).toHaveBeenCalledTimes(1);
  });

  it('moves a pending schedule to the page\u2019s timer when the worker fails to load, and keeps it there', async () => {
    // Setup
    vi.spyOn(URL, 'createObjectURL').mockReturnValue('blob:http://localhost/timer');
    vi.stubGlobal('Worker', FakeWorker);
    const { createBeatTimer } = await freshModule();
    const onTick = vi.fn();
    const timer: BeatTimer = createBeatTimer(onTick);
    timer.schedule(10_000);
    vi.advanceTimersByTime(4_000);

    // Action
    const worker = FakeWorker.all[0]!;
    worker.failToLoad();
    vi.advanceTimersByTime(5_999);
    const early = onTick.mock.calls.length;
    vi.advanceTimersByTime(1);
    timer.schedule(2_000);
    vi.advanceTimersByTime(2_000);
    timer.dispose();

    // Assertions: due at 10 s as first scheduled, then the next schedule on the page's timer too.
    expect(worker.terminated).toBe(true);
    expect(early).toBe(0);
    expect(onTick).toHaveBeenCalledTimes(2);
    expect(worker.messages).toEqual([{ type: 'schedule', id: 1, delayMs: 10_000 }]);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('makes one Blob URL for every timer of the page', async () => {
    // Setup
    const createObjectURL = vi.spyOn(URL, 'createObjectURL').mockReturnValue('blob:http://localhost/timer');
    vi.stubGlobal('Worker', FakeWorker);
    const { createBeatTimer } = await freshModule();

    // Action
    createBeatTimer(() => {}).dispose();
    createBeatTimer(() => {}).dispose();

    // Assertions
    expect(createObjectURL).toHaveBeenCalledTimes(1);
    expect(FakeWorker.all.map((w) => [w.url, w.terminated])).toEqual([
      ['blob:http://localhost/timer', true],
      ['blob:http://localhost/timer', true],
    ]);
  });
});
