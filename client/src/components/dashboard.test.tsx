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
  /** The connection is lost; the browser keeps trying by itself. */
  drop(): void {
    this.readyState = 0;
    this.dispatchEvent(new Event('error'));
  }
  close(): void {
    this.closed = true;
    this.readyState = 2;
  }
}

const me: Me = {
  user: { id: 'u1', email: 'admin@example.com', name: 'Ada Admin', role: 'client_admin' },
  tenant: { id: 't1', name: 'Acme support' },
  agent: null,
  settings: { heartbeatIntervalMs: 10_000, offlineAfterMs: 30_000, awayAfterMs: 300_000, timeZone: 'UTC' },
  canManage: true,
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
  reason: null,
  mechanism: null,
  since: null,
  until: null,
  setBy: null,
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
  it('shows agents as the stream pushes them, ticks an offline agent\'s "last seen" from the server figure, and a live one as online', async () => {
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
        agentId: 'a1', from: 'offline', to: 'available', chosenStatus: 'available', mechanism: 'heartbeat', reason: null, actor: null, until: null, at: new Date().toISOString(),
      }),
    );

    // Assertions
    expect(before).toContain('last seen 12 s ago');
    expect(before).toContain('2 of 5 chats');
    expect(ticked).toContain('last seen 15 s ago');
    expect(row.dataset.email).toBe('bea@example.com');
    expect(row.dataset.status).toBe('available');
    expect(within(row).getByText('Available')).toBeTruthy();
    expect(row.textContent).toContain('online now');
    expect(row.textContent).not.toContain('last seen');
    // No polling: the timeline's history, the summary and the reasons were fetched once each, and nothing since.
    const urls = vi.mocked(fetch).mock.calls.map(([url]) => String(url).replace(/\?.*/, ''));
    expect(urls.sort()).toEqual(['/api/agents/a1/history', '/api/reasons', '/api/summary']);
  });

  it('shows a live agent who times out as offline since the moment the transition names', () => {
    // Setup
    render(<Dashboard me={me} onSignedOut={vi.fn()} />);
    const source = FakeEventSource.last!;
    act(() => source.push('snapshot', { agents: [{ ...agent, status: 'available', secondsSinceSeen: 400 }] }));
    const row = screen.getByTestId('agent-row');
    const live = row.textContent;

    // Action
    const at = '2026-11-23T11:58:30.000Z';
    act(() =>
      source.push('status', {
        agentId: 'a1', from: 'available', to: 'offline', chosenStatus: 'available', mechanism: 'timeout', reason: null, actor: null, until: null, at,
      }),
    );

    // Assertions: never the snapshot's stale figure for a live agent
    expect(live).toContain('online now');
    expect(live).not.toContain('400');
    // On the tenant's clock (UTC here).
    expect(row.textContent).toContain('offline since 11:58');
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
    // The server answers, with an error of its own: it is not down, so nothing says reconnecting.
    expect(screen.queryByText(/Reconnecting to the server/)).toBeNull();
  });

  it('says it is reconnecting, in a live region, while the stream is down, and stops once it is back', () => {
    // Setup
    render(<Dashboard me={me} onSignedOut={vi.fn()} />);
    const source = FakeEventSource.last!;
    act(() => source.push('snapshot', { agents: [agent] }));
    const before = screen.queryByText(/Reconnecting to the server/);

    // Action
    act(() => source.drop());
    const notice = screen.getByText(/Reconnecting to the server/);
    const region = notice.closest('[aria-live]');
    act(() => source.push('snapshot', { agents: [agent] }));

    // Assertions
    expect(before).toBeNull();
    expect(region?.getAttribute('aria-live')).toBe('polite');
    expect(screen.queryByText(/Reconnecting to the server/)).toBeNull();
    // The team stays on screen meanwhile.
    expect(screen.getByTestId('agent-row').dataset.status).toBe('offline');
  });

  it('says it is reconnecting while the agent\u2019s beats find the server unavailable (503), until one gets through', async () => {
    // Setup: beats answer 503 twice, then 200.
    const replies = [503, 503];
    vi.stubGlobal(
      'fetch',
      vi.fn(async (url: string) => {
        if (url !== '/api/auth/heartbeat') return { ok: false, status: 500, json: async () => ({}) } as Response;
        const status = replies.shift() ?? 200;
        return {
          ok: status === 200,
          status,
          json: async () => (status === 200 ? { status: 'available', lastSeen: null, intervalMs: 10_000 } : { error: 'the database does not answer', code: 'unavailable' }),
        } as Response;
      }),
    );
    const agentMe: Me = { ...me, agent: { id: 'a1', status: 'available', chosenStatus: 'available' } };
    render(<Dashboard me={agentMe} onSignedOut={vi.fn()} />);
    act(() => FakeEventSource.last!.push('snapshot', { agents: [agent] }));

    // Action
    await act(() => vi.advanceTimersByTimeAsync(0));
    const whileDown = screen.queryByText(/Reconnecting to the server/)?.closest('[aria-live]');
    const banner = screen.queryByText(/Your presence is not reaching the server/);
    await act(() => vi.advanceTimersByTimeAsync(30_000));

    // Assertions
    expect(whileDown).toBeTruthy();
    expect(banner).toBeTruthy();
    expect(screen.queryByText(/Reconnecting to the server/)).toBeNull();
    expect(screen.queryByText(/Your presence is not reaching the server/)).toBeNull();
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
