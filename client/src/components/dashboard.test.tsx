import { act, cleanup, render, screen, within } from '@testing-library/react';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Me } from '../api.ts';
import type { Agent } from '../presence/index.ts';
import { Dashboard } from './dashboard.tsx';

// A stand-in for the server's SSE stream that the test pushes events into.
class FakeEventSource extends EventTarget {
  static readonly CONNECTING = 0;
  static readonly OPEN = 1;
  static readonly CLOSED = 2;
  static last: FakeEventSource | undefined;
  readyState = 0;
  closed = false;
  constructor(readonly url: string) {
    super();
    FakeEventSource.last = this;
  }
  push(type: string, data: unknown): void {
    this.dispatchEvent(new MessageEvent(type, { data: JSON.stringify(data) }));
  }
  close(): void {
    this.closed = true;
    this.readyState = 2;
  }
}

const me: Me = {
  user: { id: 'u1', email: 'admin@example.com', name: 'Ada Admin', role: 'admin' },
  tenant: { id: 't1', name: 'Acme support' },
  agent: null,
  settings: { heartbeatIntervalMs: 10_000, offlineAfterMs: 30_000, awayAfterMs: 300_000 },
};

const agent: Agent = {
  id: 'a1',
  name: 'Bea Agent',
  email: 'bea@example.com',
  status: 'offline',
  chosenStatus: 'available',
  lastSeen: null,
  secondsSinceSeen: 12,
  activeChats: 2,
  maxChats: 5,
};

beforeEach(() => {
  vi.useFakeTimers();
  vi.stubGlobal('EventSource', FakeEventSource);
  vi.stubGlobal(
    'fetch',
    vi.fn(async () => ({ ok: false, status: 500, json: async () => ({}) }) as Response),
  );
});

afterEach(() => {
  cleanup();
  vi.useRealTimers();
  vi.unstubAllGlobals();
});

describe('the team dashboard', () => {
  it('shows agents as the stream pushes them and ticks "last seen" from the server figure', async () => {
    // Setup
    render(<Dashboard me={me} onSignedOut={vi.fn()} />);
    const source = FakeEventSource.last!;
    expect(source.url).toBe('/api/agents/stream');

    // Action
    act(() => source.push('snapshot', { agents: [agent] }));
    const row = screen.getByTestId('agent-row');
    const before = row.textContent;
    await act(() => vi.advanceTimersByTimeAsync(3_000));
    const ticked = row.textContent;
    act(() =>
      source.push('status', {
        agentId: 'a1', from: 'offline', to: 'available', chosenStatus: 'available', reason: 'heartbeat', at: new Date().toISOString(),
      }),
    );

    // Assertions
    expect(before).toContain('last seen 12 s ago');
    expect(before).toContain('2 of 5 chats');
    expect(ticked).toContain('last seen 15 s ago');
    expect(row.dataset.email).toBe('bea@example.com');
    expect(row.dataset.status).toBe('available');
    expect(within(row).getByText('Available')).toBeTruthy();
    expect(row.textContent).toContain('last seen 0 s ago');
    // No polling: nothing but the timeline's history was fetched.
    for (const [url] of vi.mocked(fetch).mock.calls) expect(String(url)).toMatch(/^\/api\/agents\/a1\/history\?/);
  });

  it('tells a signed-in agent, in a live region, when its beats do not reach the server', async () => {
    // Setup: every request fails with 500.
    const agentMe: Me = { ...me, agent: { id: 'a1', status: 'available', chosenStatus: 'available' } };

    // Action
    const { container } = render(<Dashboard me={agentMe} onSignedOut={vi.fn()} />);
    await act(() => vi.advanceTimersByTimeAsync(0));

    // Assertions
    const region = container.querySelector('[aria-live]')!;
    expect(region.textContent).toContain('Your presence is not reaching the server');
    expect(screen.getByLabelText('My status')).toHaveProperty('value', 'available');
  });

  it('goes back to sign-in when a beat answers 401', async () => {
    // Setup
    vi.stubGlobal(
      'fetch',
      vi.fn(async () => ({ ok: false, status: 401, json: async () => ({ error: 'sign in', code: 'unauthenticated' }) }) as Response),
    );
    const agentMe: Me = { ...me, agent: { id: 'a1', status: 'available', chosenStatus: 'available' } };
    const onSignedOut = vi.fn();

    // Action
    render(<Dashboard me={agentMe} onSignedOut={onSignedOut} />);
    await act(() => vi.advanceTimersByTimeAsync(0));

    // Assertions
    expect(onSignedOut).toHaveBeenCalledWith('Your session has ended. Sign in again.');
  });

  it('closes the stream when it goes away', () => {
    // Setup
    const { unmount } = render(<Dashboard me={me} onSignedOut={vi.fn()} />);
    const source = FakeEventSource.last!;

    // Action
    unmount();

    // Assertions
    expect(source.closed).toBe(true);
  });
});
