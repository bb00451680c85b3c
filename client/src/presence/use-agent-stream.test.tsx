import { act, cleanup, renderHook } from '@testing-library/react';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Agent, StatusChange } from '../../../server/http/contract.ts';
import { useAgentStream, type AgentStreamOptions } from './use-agent-stream.ts';

// A stand-in for the server's SSE stream that the test pushes events into.
class FakeEventSource extends EventTarget {
  static all: FakeEventSource[] = [];
  readyState = 0;
  closed = false;
  constructor(readonly url: string) {
    super();
    FakeEventSource.all.push(this);
  }
  push(type: string, data: unknown): void {
    this.dispatchEvent(new MessageEvent(type, { data: JSON.stringify(data) }));
  }
  open(): void {
    this.readyState = 1;
    this.dispatchEvent(new Event('open'));
  }
  /** A network error: the browser keeps reconnecting by itself (CONNECTING). */
  drop(): void {
    this.readyState = 0;
    this.dispatchEvent(new Event('error'));
  }
  /** An HTTP error answer (401, 503): the browser gives up (CLOSED). */
  refuse(): void {
    this.readyState = 2;
    this.dispatchEvent(new Event('error'));
  }
  close(): void {
    this.closed = true;
    this.readyState = 2;
  }
}

const bea: Agent = {
  id: 'a1',
  name: 'Bea Agent',
  email: 'bea@example.com',
  status: 'available',
  chosenStatus: 'available',
  lastSeen: '2026-11-23T11:59:50.000Z',
  secondsSinceSeen: 10,
  activeChats: 0,
  maxChats: 5,
  reason: null,
  mechanism: null,
  since: null,
  until: null,
  setBy: null,
};

function options(overrides: Partial<AgentStreamOptions> = {}): AgentStreamOptions {
  return { createEventSource: (url) => new FakeEventSource(url) as unknown as EventSource, ...overrides };
}

const latest = () => FakeEventSource.all.at(-1)!;

beforeEach(() => {
  vi.useFakeTimers();
  vi.setSystemTime(Date.parse('2026-11-23T12:00:00Z'));
  FakeEventSource.all = [];
});

afterEach(() => {
  cleanup();
  vi.useRealTimers();
});

describe('useAgentStream', () => {
  it('opens the router\u2019s stream under basePath, at the root by default, or at the path given', () => {
    // Action
    renderHook(() => useAgentStream(options()));
    renderHook(() => useAgentStream(options({ basePath: '/api/presence' })));
    renderHook(() => useAgentStream(options({ basePath: '/api/presence', paths: { stream: '/api/agents/stream' } })));

    // Assertions
    expect(FakeEventSource.all.map((s) => s.url)).toEqual(['/stream', '/api/presence/stream', '/api/agents/stream']);
  });

  it('reopens the stream where a new basePath says', () => {
    // Setup
    const { rerender } = renderHook((props: AgentStreamOptions) => useAgentStream(props), {
      initialProps: options({ basePath: '/old' }),
    });
    const first = latest();

    // Action
    rerender(options({ basePath: '/new' }));

    // Assertions
    expect(first.closed).toBe(true);
    expect(latest().url).toBe('/new/stream');
  });

  it('takes the chosen status from each transition, whatever its reason', () => {
    // Setup
    const { result } = renderHook(() => useAgentStream(options()));
    act(() => latest().push('snapshot', { agents: [bea] }));

    // Action: Do Not Disturb chosen in another tab arrives with a beat; then the agent times out, keeping it.
    const back: StatusChange = {
      agentId: 'a1', from: 'available', to: 'dnd', chosenStatus: 'dnd', mechanism: 'heartbeat', reason: null, actor: null, until: null, at: '2026-11-23T12:00:00.000Z',
    };
    act(() => latest().push('status', back));
    const afterBeat = result.current.agents![0]!;
    const timeout: StatusChange = {
      agentId: 'a1', from: 'dnd', to: 'offline', chosenStatus: 'dnd', mechanism: 'timeout', reason: null, actor: null, until: null, at: '2026-11-23T11:58:30.000Z',
    };
    act(() => latest().push('status', timeout));

    // Assertions
    expect(afterBeat).toMatchObject({ status: 'dnd', chosenStatus: 'dnd', secondsSinceSeen: 0 });
    expect(afterBeat.offlineSince).toBeNull();
    expect(result.current.agents![0]).toMatchObject({ status: 'offline', chosenStatus: 'dnd', secondsSinceSeen: 0 });
    // When it went offline, as the transition dates it.
    expect(result.current.agents![0]!.offlineSince).toBe('2026-11-23T11:58:30.000Z');
    // The timeout is dated at last beat + threshold, in the past: kept as the server dated it.
    expect(result.current.changes.get('a1')).toEqual([back, timeout]);
  });

  it('takes the reason, the end and who set it from a supervisor\u2019s transition, and keeps them through the agent\u2019s beats', () => {
    // Setup
    const { result } = renderHook(() => useAgentStream(options()));
    act(() => latest().push('snapshot', { agents: [bea] }));
    const morgan = { id: 'u-morgan', name: 'Morgan Supervisor' };
    const meeting = { id: 'r-meeting', label: 'Meeting' };

    // Action: Morgan sets Away · Meeting until 12:15; the agent's tab closes and it comes back with a beat.
    act(() =>
      latest().push('status', {
        agentId: 'a1', from: 'available', to: 'away', chosenStatus: 'away', mechanism: 'supervisor',
        reason: meeting, actor: morgan, until: '2026-11-23T12:15:00.000Z', at: '2026-11-23T12:00:00.000Z',
      } satisfies StatusChange),
    );
    const set = result.current.agents![0]!;
    act(() =>
      latest().push('status', {
        agentId: 'a1', from: 'away', to: 'offline', chosenStatus: 'away', mechanism: 'left',
        reason: null, actor: null, until: null, at: '2026-11-23T12:01:00.000Z',
      } satisfies StatusChange),
    );

    // Assertions
    expect(set).toMatchObject({ status: 'away', reason: meeting, setBy: morgan, until: '2026-11-23T12:15:00.000Z', mechanism: 'supervisor', since: '2026-11-23T12:00:00.000Z' });
    expect(result.current.agents![0]).toMatchObject({ status: 'offline', reason: meeting, setBy: morgan, until: '2026-11-23T12:15:00.000Z', mechanism: 'left', since: '2026-11-23T12:01:00.000Z' });
  });

  it('keeps the newest summary the stream sends, with when it arrived', () => {
    // Setup
    const { result } = renderHook(() => useAgentStream(options()));
    const summary = {
      at: '2026-11-23T12:00:00.000Z', statuses: { available: 1, away: 0, dnd: 0, offline: 0 }, reasons: [],
      freeCapacity: 5, queuedChats: 0, oldestQueuedWaitS: null,
    };
    const before = result.current.summary;

    // Action
    act(() => latest().push('summary', summary));

    // Assertions
    expect(before).toBeNull();
    expect(result.current.summary).toEqual({ ...summary, receivedAt: Date.parse('2026-11-23T12:00:00Z') });
  });

  it('says it is reconnecting while the stream is down and stops saying so once it is back', () => {
    // Setup
    const { result } = renderHook(() => useAgentStream(options()));
    act(() => latest().open());
    const atFirst = result.current.reconnecting;

    // Action
    act(() => latest().drop());
    const whileDown = { ...result.current };
    act(() => latest().open());

    // Assertions
    expect(atFirst).toBe(false);
    expect(whileDown).toMatchObject({ connected: false, reconnecting: true });
    expect(result.current).toMatchObject({ connected: true, reconnecting: false });
  });

  it('opens a new stream after the server refused one, and tells the caller', async () => {
    // Setup
    const onClosed = vi.fn();
    const { result } = renderHook(() => useAgentStream(options({ onClosed, reconnectMs: 2_000 })));
    const refused = latest();

    // Action: the server answers 503 (its database is unreachable); the browser gives up on that stream.
    act(() => refused.refuse());
    const whileDown = result.current.reconnecting;
    await act(() => vi.advanceTimersByTimeAsync(2_000));
    act(() => latest().push('snapshot', { agents: [bea] }));

    // Assertions
    expect(onClosed).toHaveBeenCalledTimes(1);
    expect(whileDown).toBe(true);
    expect(FakeEventSource.all).toHaveLength(2);
    expect(result.current).toMatchObject({ connected: true, reconnecting: false });
    expect(result.current.agents).toHaveLength(1);
  });

  it('opens nothing while disabled and closes its stream when disabled', () => {
    // Setup
    const { rerender } = renderHook((props: AgentStreamOptions) => useAgentStream(props), {
      initialProps: options({ enabled: false }),
    });
    const none = FakeEventSource.all.length;

    // Action
    rerender(options({ enabled: true }));
    const opened = latest();
    rerender(options({ enabled: false }));

    // Assertions
    expect(none).toBe(0);
    expect(opened.closed).toBe(true);
  });
});
