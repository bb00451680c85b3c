import { cleanup, renderHook, waitFor } from '@testing-library/react';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Summary } from '../../../server/http/contract.ts';
import type { LiveSummary } from './use-agent-stream.ts';
import { useSummary } from './use-summary.ts';

const fetched: Summary = {
  at: '2026-11-23T12:00:00.000Z',
  statuses: { available: 2, away: 1, dnd: 0, offline: 3 },
  reasons: [{ id: 'r1', label: 'Lunch', status: 'away', count: 1 }],
  freeCapacity: 7,
  queuedChats: 1,
  oldestQueuedWaitS: 40,
};

function server(answer: () => Response) {
  const calls: string[] = [];
  const fetch = vi.fn(async (url: string | URL | Request) => {
    calls.push(String(url));
    return answer();
  });
  return { fetch: fetch as unknown as typeof globalThis.fetch, calls };
}

afterEach(cleanup);

describe('useSummary', () => {
  it('fetches the summary once under basePath and then takes the stream\u2019s when the database dated it later', async () => {
    // Setup
    const { fetch, calls } = server(() => Response.json(fetched));
    const pushed: LiveSummary = { ...fetched, at: '2026-11-23T12:00:05.000Z', queuedChats: 0, oldestQueuedWaitS: null, receivedAt: 1 };
    const { result, rerender } = renderHook((props: { summary: LiveSummary | null }) => useSummary(props, { basePath: '/api/presence', fetch }), {
      initialProps: { summary: null as LiveSummary | null },
    });
    await waitFor(() => expect(result.current.summary).not.toBeNull());
    const first = result.current.summary;

    // Action
    rerender({ summary: pushed });
    const afterPush = result.current.summary;
    rerender({ summary: { ...pushed, at: '2026-11-23T11:59:00.000Z' } });

    // Assertions
    expect(calls).toEqual(['/api/presence/summary']);
    expect(first).toMatchObject({ queuedChats: 1, freeCapacity: 7 });
    expect(afterPush).toBe(pushed);
    // An older pushed summary (a stream that reconnected to a lagging server, say) does not replace a newer fetch.
    expect(result.current.summary).toMatchObject({ at: fetched.at, queuedChats: 1 });
  });

  it('fetches nothing while disabled and says when the first fetch failed', async () => {
    // Setup
    const refused = server(() => Response.json({ error: 'only a manager', code: 'forbidden' }, { status: 403 }));
    const idle = server(() => Response.json(fetched));

    // Action
    const { result } = renderHook(() => useSummary({ summary: null }, { fetch: refused.fetch }));
    renderHook(() => useSummary({ summary: null }, { fetch: idle.fetch, enabled: false }));
    await waitFor(() => expect(result.current.failed).toBe(true));

    // Assertions
    expect(result.current.summary).toBeNull();
    expect(idle.calls).toEqual([]);
  });
});
