import { describe, expect, it } from 'vitest';
import { formatSince, spansOf, totals } from './timeline.ts';
import type { History, StatusChange } from './presence/index.ts';

const t = (hhmm: string) => Date.parse(`2026-11-23T${hhmm}:00Z`);

describe('the 24-hour timeline', () => {
  it('cuts the history into spans clipped to the window and extended to now', () => {
    // Setup
    const history: History = {
      agentId: 'a',
      from: '2026-11-23T00:00:00Z',
      to: '2026-11-23T12:00:00Z',
      statusAtStart: 'offline',
      nextCursor: null,
      events: [
        { from: 'offline', to: 'available', mechanism: 'heartbeat', reason: null, actor: null, at: '2026-11-23T08:00:00Z' },
        { from: 'available', to: 'away', mechanism: 'idle', reason: null, actor: null, at: '2026-11-23T10:00:00Z' },
      ],
    };

    // Action
    const spans = spansOf(history, [], t('06:00'), t('12:30'));

    // Assertions
    expect(spans).toEqual([
      { status: 'offline', start: t('06:00'), end: t('08:00') },
      { status: 'available', start: t('08:00'), end: t('10:00') },
      { status: 'away', start: t('10:00'), end: t('12:30') },
    ]);
    expect(totals(spans).get('away')).toBe(150 * 60_000);
  });

  it('adds transitions pushed after the history was fetched, once', () => {
    // Setup
    const history: History = {
      agentId: 'a',
      from: '2026-11-23T00:00:00Z',
      to: '2026-11-23T12:00:00Z',
      statusAtStart: 'available',
      nextCursor: null,
      events: [{ from: 'available', to: 'dnd', mechanism: 'manual', reason: null, actor: null, at: '2026-11-23T11:00:00Z' }],
    };
    const live: StatusChange[] = [
      { agentId: 'a', from: 'available', to: 'dnd', chosenStatus: 'dnd', mechanism: 'manual', reason: null, actor: null, until: null, at: '2026-11-23T11:00:00Z' },
      { agentId: 'a', from: 'dnd', to: 'offline', chosenStatus: 'dnd', mechanism: 'left', reason: null, actor: null, until: null, at: '2026-11-23T12:10:00Z' },
    ];

    // Action
    const spans = spansOf(history, live, t('00:00'), t('12:20'));

    // Assertions
    expect(spans.map((s) => s.status)).toEqual(['available', 'dnd', 'offline']);
    expect(spans[2]).toEqual({ status: 'offline', start: t('12:10'), end: t('12:20') });
  });

  it('places a pushed transition dated before the fetched history ended at its own time', () => {
    // Setup: the history was read at 12:00; the sweep that ran after it recorded the agent offline at 11:50, when
    // its last beat (11:48:30) plus the 90 s threshold had passed.
    const history: History = {
      agentId: 'a',
      from: '2026-11-23T00:00:00Z',
      to: '2026-11-23T12:00:00Z',
      statusAtStart: 'available',
      nextCursor: null,
      events: [],
    };
    const live: StatusChange[] = [
      { agentId: 'a', from: 'available', to: 'offline', chosenStatus: 'available', mechanism: 'timeout', reason: null, actor: null, until: null, at: '2026-11-23T11:50:00Z' },
    ];

    // Action
    const spans = spansOf(history, live, t('11:00'), t('12:05'));

    // Assertions
    expect(spans).toEqual([
      { status: 'available', start: t('11:00'), end: t('11:50') },
      { status: 'offline', start: t('11:50'), end: t('12:05') },
    ]);
  });

  it('says how long ago in the largest whole unit', () => {
    expect(formatSince(12)).toBe('12 s');
    expect(formatSince(125)).toBe('2 min');
    expect(formatSince(7_300)).toBe('2 h');
  });
});
