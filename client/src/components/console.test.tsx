import { act, cleanup, fireEvent, render, screen, within } from '@testing-library/react';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Me } from '../api.ts';
import type { Agent, AgentDay, StatusChange, Summary, TenantReason } from '../presence/index.ts';
import { Dashboard } from './dashboard.tsx';

// A stand-in for the server's SSE stream that the test pushes events into.
class FakeEventSource extends EventTarget {
  static last: FakeEventSource | undefined;
  readyState = 0;
  constructor(readonly url: string) {
    super();
    FakeEventSource.last = this;
  }
  push(type: string, data: unknown): void {
    this.dispatchEvent(new MessageEvent(type, { data: JSON.stringify(data) }));
  }
  close(): void {
    this.readyState = 2;
  }
}

const now = Date.parse('2026-12-03T13:00:00Z');
const supervisor: Me = {
  user: { id: 'u-morgan', email: 'morgan@example.com', name: 'Morgan Supervisor', role: 'supervisor' },
  tenant: { id: 't1', name: 'Acme support' },
  agent: null,
  settings: { heartbeatIntervalMs: 10_000, offlineAfterMs: 30_000, awayAfterMs: 300_000, timeZone: 'Europe/Berlin' },
  canManage: true,
};

const reasons: TenantReason[] = [
  { id: 'r-lunch', status: 'away', label: 'Lunch', position: 1, defaultDurationS: 1800, retired: false },
  { id: 'r-meeting', status: 'away', label: 'Meeting', position: 2, defaultDurationS: null, retired: false },
  { id: 'r-focus', status: 'dnd', label: 'Focus', position: 1, defaultDurationS: null, retired: false },
];

const base: Omit<Agent, 'id' | 'name' | 'email'> = {
  status: 'available',
  chosenStatus: 'available',
  lastSeen: '2026-12-03T12:59:58Z',
  secondsSinceSeen: 2,
  activeChats: 1,
  maxChats: 4,
  reason: null,
  mechanism: 'heartbeat',
  since: '2026-12-03T12:00:00Z',
  until: null,
  setBy: null,
};
const bea: Agent = { ...base, id: 'a1', name: 'Bea Agent', email: 'bea@example.com' };
const cal: Agent = {
  ...base,
  id: 'a2',
  name: 'Cal Agent',
  email: 'cal@example.com',
  status: 'away',
  chosenStatus: 'away',
  reason: { id: 'r-meeting', label: 'Meeting' },
  mechanism: 'supervisor',
  since: '2026-12-03T12:48:00Z',
  until: '2026-12-03T13:30:00Z',
  setBy: { id: 'u-morgan', name: 'Morgan Supervisor' },
};

const summary: Summary = {
  at: '2026-12-03T13:00:00Z',
  statuses: { available: 1, away: 1, dnd: 0, offline: 0 },
  reasons: [{ id: 'r-meeting', label: 'Meeting', status: 'away', count: 1 }],
  freeCapacity: 3,
  queuedChats: 2,
  oldestQueuedWaitS: 95,
};

const day: AgentDay = {
  agentId: 'a2',
  date: '2026-12-03',
  timeZone: 'Europe/Berlin',
  from: '2026-12-02T23:00:00Z',
  to: '2026-12-03T23:00:00Z',
  statusAtStart: 'offline',
  events: [
    { from: 'offline', to: 'available', mechanism: 'heartbeat', reason: null, actor: null, at: '2026-12-03T07:00:00Z' },
    { from: 'available', to: 'away', mechanism: 'supervisor', reason: { id: 'r-meeting', label: 'Meeting' }, actor: { id: 'u-morgan', name: 'Morgan Supervisor' }, at: '2026-12-03T12:48:00Z' },
  ],
  totals: [
    { status: 'offline', reason: null, seconds: 7 * 3600 },
    { status: 'available', reason: null, seconds: 5 * 3600 + 48 * 60 },
    { status: 'away', reason: { id: 'r-meeting', label: 'Meeting' }, seconds: 12 * 60 },
  ],
};

function json(body: unknown, status = 200): Response {
  return { ok: status < 300, status, json: async () => body } as Response;
}

let requests: Array<{ method: string; url: string; body: unknown }>;

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'] });
  vi.setSystemTime(now);
  location.hash = '';
  requests = [];
  vi.stubGlobal('EventSource', FakeEventSource);
  vi.stubGlobal(
    'fetch',
    vi.fn(async (url: string, init: RequestInit) => {
      const method = init.method ?? 'GET';
      requests.push({ method, url, body: init.body ? JSON.parse(String(init.body)) : undefined });
      if (url === '/api/summary') return json(summary);
      if (url === '/api/reasons') return json({ reasons });
      if (url.startsWith('/api/agents/a2/day')) return json(day);
      if (url.startsWith('/api/agents/a2/status') && method === 'PUT') return json({ status: 'away', agent: cal });
      if (url.startsWith('/api/agents/a1/status') && method === 'PUT') return json({ error: 'until: more than 7 days ahead', code: 'invalid_input' }, 400);
      return json({}, 500);
    }),
  );
});

afterEach(() => {
  cleanup();
  vi.useRealTimers();
  vi.unstubAllGlobals();
});

async function openConsole(me: Me = supervisor) {
  render(<Dashboard me={me} onSignedOut={vi.fn()} />);
  act(() => FakeEventSource.last!.push('snapshot', { agents: [bea, cal] }));
  await act(() => vi.advanceTimersByTimeAsync(0));
}

const rowOf = (email: string) => screen.getAllByTestId('agent-row').find((r) => r.dataset.email === email)!;

describe('the supervisor\u2019s console', () => {
  it('shows the team\u2019s figures from the summary and follows the stream\u2019s summary events', async () => {
    // Setup
    await openConsole();
    const bar = screen.getByTestId('summary');
    const before = bar.textContent;

    // Action
    act(() => FakeEventSource.last!.push('summary', { ...summary, at: '2026-12-03T13:00:01Z', queuedChats: 0, oldestQueuedWaitS: null, freeCapacity: 0 }));

    // Assertions
    expect(before).toContain('3free chat slots');
    expect(before).toContain('2queued, oldest 1 min');
    expect(before).toContain('Away · Meeting: 1');
    expect(within(bar).getByTestId('queue').textContent).toBe('0queued');
    expect(within(bar).getByTestId('free-capacity').textContent).toBe('0free chat slots');
  });

  it('shows each agent\u2019s reason, how long, until when on the tenant\u2019s clock, and who set it', async () => {
    // Action
    await openConsole();

    // Assertions
    const state = within(rowOf('cal@example.com')).getByTestId('agent-state').textContent;
    expect(state).toBe('Meetingfor 12 minuntil 14:30set by Morgan Supervisor');
    expect(within(rowOf('bea@example.com')).getByTestId('agent-state').textContent).toBe('for 1 h');
  });

  it('sorts, filters by status and searches by name', async () => {
    // Setup
    await openConsole();
    const names = () => screen.getAllByTestId('agent-row').map((r) => r.dataset.email);

    // Action
    fireEvent.change(screen.getByLabelText('Sort by'), { target: { value: 'since' } });
    const bySince = names();
    fireEvent.change(screen.getByLabelText('Status'), { target: { value: 'away' } });
    const away = names();
    fireEvent.change(screen.getByLabelText('Status'), { target: { value: '' } });
    fireEvent.change(screen.getByLabelText('Search'), { target: { value: 'BEA' } });

    // Assertions
    expect(bySince).toEqual(['bea@example.com', 'cal@example.com']);
    expect(away).toEqual(['cal@example.com']);
    expect(names()).toEqual(['bea@example.com']);
  });

  it('opens an agent\u2019s panel with today\u2019s totals and events, and zooms its timeline', async () => {
    // Setup
    await openConsole();

    // Action
    fireEvent.click(within(rowOf('cal@example.com')).getByRole('button', { name: 'Cal Agent' }));
    await act(() => vi.advanceTimersByTimeAsync(0));
    const panel = screen.getByTestId('agent-panel');
    fireEvent.click(within(panel).getByRole('button', { name: '8 h' }));

    // Assertions
    expect(requests.some((r) => r.url === '/api/agents/a2/day')).toBe(true);
    const events = within(panel).getByTestId('day-events').textContent;
    expect(events).toContain('13:48:00Available → Away · Meetingby a supervisor (Morgan Supervisor)');
    expect(events).toContain('08:00:00Offline → Availablecame online');
    expect(within(panel).getByTestId('day-totals').textContent).toContain('AwayMeeting12 min');
    expect(within(panel).getByRole('button', { name: '8 h' }).getAttribute('aria-pressed')).toBe('true');
  });

  it('sets an agent Away · Meeting for 15 minutes from the database\u2019s clock', async () => {
    // Setup
    await openConsole();
    fireEvent.click(within(rowOf('cal@example.com')).getByRole('button', { name: 'Cal Agent' }));
    const form = screen.getByRole('form', { name: 'Set Cal Agent\u2019s status'.replace('\u2019', "'") });

    // Action
    fireEvent.change(within(form).getByLabelText('Status'), { target: { value: 'away' } });
    fireEvent.change(within(form).getByLabelText('Reason'), { target: { value: 'r-meeting' } });
    fireEvent.change(within(form).getByLabelText('Ends'), { target: { value: '15m' } });
    fireEvent.submit(form);
    await act(() => vi.advanceTimersByTimeAsync(0));

    // Assertions: the summary said the database's time is 13:00:00 when this clock said so too.
    const put = requests.find((r) => r.method === 'PUT')!;
    expect(put).toEqual({
      method: 'PUT',
      url: '/api/agents/a2/status',
      body: { status: 'away', reason: 'r-meeting', until: '2026-12-03T13:15:00.000Z' },
    });
    expect(within(form).getByRole('status').textContent).toBe('Cal Agent is set Away · Meeting.');
  });

  it('takes an agent offline in one click and shows the server\u2019s message when it refuses', async () => {
    // Setup
    await openConsole();

    // Action
    fireEvent.click(within(rowOf('bea@example.com')).getByRole('button', { name: 'Take offline' }));
    await act(() => vi.advanceTimersByTimeAsync(0));

    // Assertions
    expect(requests.find((r) => r.method === 'PUT')).toEqual({ method: 'PUT', url: '/api/agents/a1/status', body: { status: 'offline' } });
    expect(screen.getByText('until: more than 7 days ahead')).toBeTruthy();
  });

  it('shows no actions, summary or reasons page to someone who may not manage', async () => {
    // Action
    await openConsole({ ...supervisor, user: { ...supervisor.user, role: 'support_staff' }, canManage: false });

    // Assertions
    expect(screen.queryByTestId('summary')).toBeNull();
    expect(screen.queryByRole('button', { name: 'Take offline' })).toBeNull();
    expect(screen.queryByRole('link', { name: 'Reasons' })).toBeNull();
    expect(requests.some((r) => r.url === '/api/summary')).toBe(false);
  });
});

describe('the agent\u2019s own page', () => {
  it('says "Away · Meeting, set by Morgan" and until when at once, and the picker takes a reason', async () => {
    // Setup
    const me: Me = {
      ...supervisor,
      user: { id: 'u-cal', email: 'cal@example.com', name: 'Cal Agent', role: 'support_staff' },
      agent: { id: 'a2', status: 'available', chosenStatus: 'available' },
      canManage: false,
    };
    await openConsole(me);
    const change: StatusChange = {
      agentId: 'a2', from: 'available', to: 'dnd', chosenStatus: 'dnd', mechanism: 'manual',
      reason: { id: 'r-focus', label: 'Focus' }, actor: { id: 'u-cal', name: 'Cal Agent' }, until: null, at: '2026-12-03T13:00:00Z',
    };
    const supervisorSet = screen.getByTestId('my-state').textContent;

    // Action
    fireEvent.change(screen.getByLabelText('Reason'), { target: { value: 'r-lunch' } });
    await act(() => vi.advanceTimersByTimeAsync(0));
    act(() => FakeEventSource.last!.push('status', change));

    // Assertions
    expect(supervisorSet).toBe('Away · Meeting, set by Morgan Supervisor until 14:30');
    expect(requests.find((r) => r.url === '/api/agents/me/status')?.body).toEqual({ status: 'away', reason: 'r-lunch' });
    expect(screen.getByTestId('my-state').textContent).toBe('Do Not Disturb · Focus');
    expect(screen.getByLabelText('My status')).toHaveProperty('value', 'dnd');
  });
});
