import { act, cleanup, renderHook } from '@testing-library/react';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { BeatTimerFactory } from './beat-timer.ts';
import { createPageTimer, timerWorkerSource } from './beat-timer.ts';
import { backoffDelay, useHeartbeat, type HeartbeatOptions } from './use-heartbeat.ts';

// The server, as far as this hook sees it: fetch answers one reply per beat, by default {status: 'available'}.
type Reply = { status: number; body?: unknown } | Error;

function fakeServer() {
  const replies: Reply[] = [];
  const beats: Array<{ sessionId: string; activity: string }> = [];
  const urls: string[] = [];
  const fetch = vi.fn(async (url: string, init: RequestInit) => {
    urls.push(url);
    beats.push(JSON.parse(String(init.body)));
    const reply = replies.shift() ?? { status: 200, body: { status: 'available', intervalMs: 10_000 } };
    if (reply instanceof Error) throw reply;
    return {
      ok: reply.status >= 200 && reply.status < 300,
      status: reply.status,
      json: async () => reply.body ?? {},
    } as Response;
  });
  vi.stubGlobal('fetch', fetch);
  return { replies, beats, urls, fetch };
}

function setVisibility(state: 'visible' | 'hidden'): void {
  Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => state });
  document.dispatchEvent(new Event('visibilitychange'));
}

async function advance(ms: number): Promise<void> {
  await act(() => vi.advanceTimersByTimeAsync(ms));
}

function options(overrides: Partial<HeartbeatOptions> = {}): HeartbeatOptions {
  return {
    basePath: '/api/presence',
    enabled: true,
    intervalMs: 10_000,
    awayAfterMs: 60_000,
    onUnauthorized: vi.fn(),
    tabId: 'tab-1',
    createTimer: createPageTimer,
    random: () => 0,
    ...overrides,
  };
}

beforeEach(() => {
  vi.useFakeTimers();
  setVisibility('visible');
});

afterEach(() => {
  cleanup();
  vi.useRealTimers();
  vi.unstubAllGlobals();
  vi.restoreAllMocks();
});

describe('useHeartbeat', () => {
  it('beats at once and then at the interval the server advises', async () => {
    // Setup
    const server = fakeServer();
    server.replies.push({ status: 200, body: { status: 'available', intervalMs: 5_000 } });

    // Action
    const { result } = renderHook(() => useHeartbeat(options()));
    await advance(0);

    // Assertions
    expect(server.beats).toEqual([{ sessionId: 'tab-1', activity: 'active' }]);
    expect(server.urls).toEqual(['/api/presence/heartbeat']);
    expect(result.current).toMatchObject({ reaching: true, status: 'available' });
    await advance(4_999);
    expect(server.beats).toHaveLength(1);
    await advance(1);
    expect(server.beats).toHaveLength(2);
    // The second reply advised 10 s.
    await advance(9_999);
    expect(server.beats).toHaveLength(2);
    await advance(1);
    expect(server.beats).toHaveLength(3);
  });

  it('keeps its clock in a Web Worker built from a Blob of its source and ends it on unmount', async () => {
    // Setup
    fakeServer();
    const blobs: Blob[] = [];
    vi.spyOn(URL, 'createObjectURL').mockImplementation((blob) => {
      blobs.push(blob as Blob);
      return 'blob:http://localhost/heartbeat-timer';
    });
    const workers: FakeWorker[] = [];
    class FakeWorker {
      onmessage: ((event: MessageEvent) => void) | null = null;
      onerror: ((event: ErrorEvent) => void) | null = null;
      messages: unknown[] = [];
      terminated = false;
      constructor(
        readonly url: string,
        readonly options: WorkerOptions,
      ) {
        workers.push(this);
      }
      postMessage(message: unknown): void {
        this.messages.push(message);
      }
      terminate(): void {
        this.terminated = true;
      }
    }
    vi.stubGlobal('Worker', FakeWorker);
    const { createBeatTimer } = await import('./beat-timer.ts');

    // Action
    const { unmount } = renderHook(() => useHeartbeat(options({ createTimer: createBeatTimer })));
    await advance(0);

    // Assertions
    expect(workers).toHaveLength(1);
    const worker = workers[0]!;
    expect(worker.url).toBe('blob:http://localhost/heartbeat-timer');
    expect(blobs[0]).toMatchObject({ type: 'text/javascript', size: timerWorkerSource.length });
    // A classic worker: its source is a plain script, so no bundler or module support is involved.
    expect(worker.options.type).toBeUndefined();
    const last = worker.messages.at(-1) as { type: string; id: number; delayMs: number };
    expect(last).toMatchObject({ type: 'schedule', delayMs: 10_000 });
    // A tick of an older schedule is ignored; the current one beats.
    await act(async () => worker.onmessage?.({ data: { type: 'tick', id: last.id - 1 } } as MessageEvent));
    expect(vi.mocked(fetch)).toHaveBeenCalledTimes(1);
    await act(async () => worker.onmessage?.({ data: { type: 'tick', id: last.id } } as MessageEvent));
    await advance(0);
    expect(vi.mocked(fetch)).toHaveBeenCalledTimes(2);
    unmount();
    expect(worker.terminated).toBe(true);
  });

  it('beats at once when the tab becomes visible again', async () => {
    // Setup
    const server = fakeServer();
    renderHook(() => useHeartbeat(options()));
    await advance(0);

    // Action
    await advance(3_000);
    act(() => setVisibility('hidden'));
    await advance(0);
    const whileHidden = server.beats.length;
    act(() => setVisibility('visible'));
    await advance(0);

    // Assertions
    expect(whileHidden).toBe(1);
    expect(server.beats).toHaveLength(2);
    // The interval restarts from the visible beat.
    await advance(9_999);
    expect(server.beats).toHaveLength(2);
    await advance(1);
    expect(server.beats).toHaveLength(3);
  });

  it('beats at once when the browser comes back online', async () => {
    // Setup
    const server = fakeServer();
    const { result } = renderHook(() => useHeartbeat(options()));
    await advance(0);

    // Action
    act(() => void window.dispatchEvent(new Event('offline')));
    const offline = result.current.reaching;
    act(() => void window.dispatchEvent(new Event('online')));
    await advance(0);

    // Assertions
    expect(offline).toBe(false);
    expect(server.beats).toHaveLength(2);
    expect(result.current.reaching).toBe(true);
  });

  it('reports idle after the tenant threshold without input and active on the next input', async () => {
    // Setup
    const server = fakeServer();
    const { result } = renderHook(() => useHeartbeat(options({ intervalMs: 10_000, awayAfterMs: 25_000 })));
    await advance(0);

    // Action: input at 20 s postpones idleness to 45 s.
    await advance(20_000);
    act(() => void window.dispatchEvent(new Event('pointermove')));
    await advance(24_999);
    const beforeIdle = server.beats.map((b) => b.activity);
    await advance(1);
    const idleBeat = server.beats.at(-1);
    const idleState = result.current.activity;
    await advance(5_000);
    act(() => void window.dispatchEvent(new KeyboardEvent('keydown', { key: 'a' })));
    await advance(0);

    // Assertions
    expect(beforeIdle).toEqual(['active', 'active', 'active', 'active', 'active']);
    expect(idleBeat).toEqual({ sessionId: 'tab-1', activity: 'idle' });
    expect(idleState).toBe('idle');
    expect(server.beats.at(-1)).toEqual({ sessionId: 'tab-1', activity: 'active' });
    expect(result.current.activity).toBe('active');
    // Beats between idle and the key press said idle; the key press beat at once, off the interval.
    expect(server.beats.map((b) => b.activity)).toEqual([
      'active', 'active', 'active', 'active', 'active', 'idle', 'active',
    ]);
  });

  it('reports idle from the worker\u2019s beat even when the page\u2019s own timers are throttled', async () => {
    // Setup: a timer the test ticks by hand, standing in for the worker.
    const server = fakeServer();
    let tick = () => {};
    const manual: BeatTimerFactory = (onTick) => {
      tick = onTick;
      return { schedule: () => {}, cancel: () => {}, dispose: () => {} };
    };
    renderHook(() => useHeartbeat(options({ createTimer: manual, awayAfterMs: 60_000 })));
    await advance(0);

    // Action: the clock moves on but no page timer fires, as in a throttled hidden tab.
    vi.setSystemTime(Date.now() + 61_000);
    await act(async () => tick());
    await advance(0);

    // Assertions
    expect(server.beats.map((b) => b.activity)).toEqual(['active', 'idle']);
  });

  it('counts window focus as input', async () => {
    // Setup
    const server = fakeServer();
    renderHook(() => useHeartbeat(options({ intervalMs: 60_000, awayAfterMs: 5_000 })));
    await advance(5_000);

    // Action
    act(() => void window.dispatchEvent(new FocusEvent('focus')));
    await advance(0);

    // Assertions
    expect(server.beats.map((b) => b.activity)).toEqual(['active', 'idle', 'active']);
  });

  it('retries failed beats with exponential backoff and says presence is not reaching the server', async () => {
    // Setup
    const server = fakeServer();
    server.replies.push(new TypeError('Failed to fetch'), new TypeError('Failed to fetch'), { status: 503 });

    // Action
    const { result } = renderHook(() => useHeartbeat(options({ random: () => 0 })));
    await advance(0);

    // Assertions: random 0 means half of 1 s, 2 s, 4 s.
    expect(result.current).toMatchObject({ reaching: false, failures: 1, retryInMs: 500, unavailable: true });
    await advance(499);
    expect(server.beats).toHaveLength(1);
    await advance(1);
    expect(server.beats).toHaveLength(2);
    expect(result.current).toMatchObject({ reaching: false, failures: 2, retryInMs: 1_000 });
    await advance(1_000);
    expect(server.beats).toHaveLength(3);
    expect(result.current).toMatchObject({ reaching: false, failures: 3, retryInMs: 2_000, unavailable: true });
    await advance(2_000);
    expect(server.beats).toHaveLength(4);
    expect(result.current).toMatchObject({ reaching: true, failures: 0, status: 'available', unavailable: false });
    // Back on the normal interval.
    await advance(9_999);
    expect(server.beats).toHaveLength(4);
  });

  it('tells a server that is down from one that answers with an error', async () => {
    // Setup: the server answers 503 (its database is unreachable), then 500 (a fault of its own), then 200.
    const server = fakeServer();
    server.replies.push({ status: 503, body: { error: 'the database does not answer', code: 'unavailable' } }, { status: 500 });

    // Action
    const { result } = renderHook(() => useHeartbeat(options()));
    await advance(0);
    const on503 = result.current;
    await advance(500);
    const on500 = result.current;
    await advance(1_000);

    // Assertions
    expect(on503).toMatchObject({ reaching: false, unavailable: true });
    expect(on500).toMatchObject({ reaching: false, unavailable: false });
    expect(result.current).toMatchObject({ reaching: true, unavailable: false });
    expect(server.beats).toHaveLength(3);
  });

  it('spreads retries with jitter and caps them at 30 s', () => {
    expect(backoffDelay(1, 0)).toBe(500);
    expect(backoffDelay(1, 1)).toBe(1_000);
    expect(backoffDelay(3, 0.5)).toBe(3_000);
    expect(backoffDelay(20, 1)).toBe(30_000);
    expect(backoffDelay(20, 0)).toBe(15_000);
  });

  it('stops and calls onUnauthorized on 401', async () => {
    // Setup
    const server = fakeServer();
    server.replies.push({ status: 200, body: { status: 'available' } }, { status: 401, body: { error: 'sign in', code: 'unauthenticated' } });
    const onUnauthorized = vi.fn();

    // Action
    renderHook(() => useHeartbeat(options({ onUnauthorized })));
    await advance(10_000);
    await advance(0);
    act(() => setVisibility('visible'));
    act(() => void window.dispatchEvent(new Event('online')));
    await advance(120_000);

    // Assertions
    expect(onUnauthorized).toHaveBeenCalledTimes(1);
    expect(server.beats).toHaveLength(2);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('ends only this tab\u2019s presence with a beacon on pagehide', async () => {
    // Setup
    fakeServer();
    const sendBeacon = vi.fn(() => true);
    Object.defineProperty(navigator, 'sendBeacon', { configurable: true, value: sendBeacon });
    renderHook(() => useHeartbeat(options({ tabId: 'tab-7' })));
    await advance(0);

    // Action
    act(() => void window.dispatchEvent(new Event('pagehide')));

    // Assertions
    expect(sendBeacon).toHaveBeenCalledWith('/api/presence/leave', JSON.stringify({ sessionId: 'tab-7' }));
  });

  it('beats and leaves at the router\u2019s routes under basePath, at the root by default', async () => {
    // Setup
    const server = fakeServer();
    const sendBeacon = vi.fn((_url: string, _data: string) => true);
    Object.defineProperty(navigator, 'sendBeacon', { configurable: true, value: sendBeacon });

    // Action
    const { unmount } = renderHook(() => useHeartbeat(options({ basePath: undefined })));
    await advance(0);
    act(() => void window.dispatchEvent(new Event('pagehide')));
    unmount();
    renderHook(() => useHeartbeat(options({ basePath: '/platform/presence/' })));
    await advance(0);
    act(() => void window.dispatchEvent(new Event('pagehide')));

    // Assertions
    expect(server.urls).toEqual(['/heartbeat', '/platform/presence/heartbeat']);
    expect(sendBeacon.mock.calls.map(([url]) => url)).toEqual(['/leave', '/platform/presence/leave']);
  });

  it('beats and leaves at the paths given route by route, as the standalone server has them', async () => {
    // Setup
    const server = fakeServer();
    const sendBeacon = vi.fn(() => true);
    Object.defineProperty(navigator, 'sendBeacon', { configurable: true, value: sendBeacon });

    // Action: only heartbeat and leave are given; basePath does not apply to them.
    renderHook(() =>
      useHeartbeat(options({ basePath: '/ignored', paths: { heartbeat: '/api/auth/heartbeat', leave: '/api/auth/leave' } })),
    );
    await advance(0);
    act(() => void window.dispatchEvent(new Event('pagehide')));

    // Assertions
    expect(server.urls).toEqual(['/api/auth/heartbeat']);
    expect(sendBeacon).toHaveBeenCalledWith('/api/auth/leave', JSON.stringify({ sessionId: 'tab-1' }));
  });

  it('beats no more after pagehide, and again when the page comes back from the back/forward cache', async () => {
    // Setup
    const server = fakeServer();
    Object.defineProperty(navigator, 'sendBeacon', { configurable: true, value: vi.fn(() => true) });
    renderHook(() => useHeartbeat(options()));
    await advance(0);

    // Action
    act(() => void window.dispatchEvent(new Event('pagehide')));
    act(() => setVisibility('visible'));
    await advance(60_000);
    const whileGone = server.beats.length;
    act(() => void window.dispatchEvent(new PageTransitionEvent('pageshow', { persisted: true })));
    await advance(0);

    // Assertions
    expect(whileGone).toBe(1);
    expect(server.beats).toHaveLength(2);
  });

  it('gives each page load one random tab id when none is passed', async () => {
    // Setup
    const server = fakeServer();

    // Action
    const first = renderHook(() => useHeartbeat(options({ tabId: undefined })));
    await advance(0);
    first.unmount();
    renderHook(() => useHeartbeat(options({ tabId: undefined })));
    await advance(0);

    // Assertions
    expect(server.beats[0]!.sessionId).toMatch(/^[0-9a-f-]{36}$/);
    expect(server.beats[1]!.sessionId).toBe(server.beats[0]!.sessionId);
  });

  it('releases every listener and timer on unmount and sends nothing afterwards', async () => {
    // Setup
    const server = fakeServer();
    const added: Array<[EventTarget, string, unknown]> = [];
    const removed: Array<[EventTarget, string, unknown]> = [];
    for (const target of [window, document] as EventTarget[]) {
      const add = target.addEventListener.bind(target);
      const remove = target.removeEventListener.bind(target);
      vi.spyOn(target, 'addEventListener').mockImplementation((type, listener, opts) => {
        added.push([target, type, listener]);
        add(type, listener, opts);
      });
      vi.spyOn(target, 'removeEventListener').mockImplementation((type, listener, opts) => {
        removed.push([target, type, listener]);
        remove(type, listener, opts);
      });
    }
    const { unmount } = renderHook(() => useHeartbeat(options()));
    await advance(0);

    // Action
    unmount();
    act(() => setVisibility('visible'));
    act(() => void window.dispatchEvent(new Event('online')));
    act(() => void window.dispatchEvent(new Event('keydown')));
    await advance(600_000);

    // Assertions
    expect(added.length).toBeGreaterThanOrEqual(10);
    for (const entry of added) expect(removed).toContainEqual(entry);
    expect(server.beats).toHaveLength(1);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('stops when disabled, as on sign-out', async () => {
    // Setup
    const server = fakeServer();
    const { rerender } = renderHook((props: HeartbeatOptions) => useHeartbeat(props), { initialProps: options() });
    await advance(0);

    // Action
    rerender(options({ enabled: false }));
    await advance(60_000);

    // Assertions
    expect(server.beats).toHaveLength(1);
    expect(vi.getTimerCount()).toBe(0);
  });
});
