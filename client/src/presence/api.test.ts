// The history as the dashboard asks for it: every page of the range, following nextCursor.
import { describe, expect, it } from 'vitest';
import type { History } from '../../../server/http/contract.ts';
import { createPresenceApi } from './api.ts';

describe('createPresenceApi().history', () => {
  it('follows nextCursor with the same range and answers the events of every page in order', async () => {
    // Setup: a server that answers the range in two pages.
    const urls: string[] = [];
    const page = (events: History['events'], nextCursor: string | null): History => ({
      agentId: 'a',
      from: '2026-11-23T00:00:00.000Z',
      to: '2026-11-24T00:00:00.000Z',
      statusAtStart: 'offline',
      events,
      nextCursor,
    });
    const pages = [
      page([{ from: 'offline', to: 'available', mechanism: 'heartbeat', reason: null, actor: null, at: '2026-11-23T08:00:00.000Z' }], 'c1'),
      page([{ from: 'available', to: 'away', mechanism: 'manual', reason: null, actor: null, at: '2026-11-23T09:00:00.000Z' }], null),
    ];
    const fetch = async (url: string | URL | Request) => {
      urls.push(String(url));
      return new Response(JSON.stringify(pages[urls.length - 1]), { headers: { 'content-type': 'application/json' } });
    };
    const api = createPresenceApi({ fetch: fetch as typeof globalThis.fetch });

    // Action
    const history = await api.history('a', new Date('2026-11-23T00:00:00Z'), new Date('2026-11-24T00:00:00Z'));

    // Assertions
    expect(history.events.map((e) => e.to)).toEqual(['available', 'away']);
    expect(history.nextCursor).toBeNull();
    const range = 'from=2026-11-23T00%3A00%3A00.000Z&to=2026-11-24T00%3A00%3A00.000Z';
    expect(urls).toEqual([`/agents/a/history?${range}`, `/agents/a/history?${range}&cursor=c1`]);
  });
});
