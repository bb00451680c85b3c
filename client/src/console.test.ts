import { describe, expect, it } from 'vitest';
import { arrange, axisMarks, clockTime, dateIn, endTime, formatFor, instantOf, reasonsOf, setByOther, untilOf } from './console.ts';
import type { TenantReason } from './presence/index.ts';

const agent = (name: string, status: 'available' | 'away' | 'dnd' | 'offline', since: string | null, email = `${name.toLowerCase()}@example.com`) => ({
  name,
  email,
  status,
  since,
});

describe('the console list', () => {
  const team = [
    agent('Sam', 'away', '2026-12-03T10:00:00Z'),
    agent('Priya', 'available', '2026-12-03T09:00:00Z'),
    agent('Chen', 'available', null),
    agent('Jordan', 'offline', '2026-12-03T08:00:00Z', 'jl@example.com'),
  ];

  it('sorts by name, by status in the order of the statuses, and by longest in status', () => {
    // Action
    const byName = arrange(team, { sort: 'name', status: null, query: '' }).map((a) => a.name);
    const byStatus = arrange(team, { sort: 'status', status: null, query: '' }).map((a) => a.name);
    const bySince = arrange(team, { sort: 'since', status: null, query: '' }).map((a) => a.name);

    // Assertions
    expect(byName).toEqual(['Chen', 'Jordan', 'Priya', 'Sam']);
    expect(byStatus).toEqual(['Chen', 'Priya', 'Sam', 'Jordan']);
    expect(bySince).toEqual(['Jordan', 'Priya', 'Sam', 'Chen']);
  });

  it('filters by status and searches names and emails in any case', () => {
    // Action
    const available = arrange(team, { sort: 'name', status: 'available', query: '' }).map((a) => a.name);
    const byName = arrange(team, { sort: 'name', status: null, query: ' pRI ' }).map((a) => a.name);
    const byEmail = arrange(team, { sort: 'name', status: null, query: 'jl@' }).map((a) => a.name);
    const none = arrange(team, { sort: 'name', status: 'dnd', query: '' });

    // Assertions
    expect(available).toEqual(['Chen', 'Priya']);
    expect(byName).toEqual(['Priya']);
    expect(byEmail).toEqual(['Jordan']);
    expect(none).toEqual([]);
  });
});

describe('times in the tenant\u2019s time zone', () => {
  it('says "for 12 min" and longer spans in hours and days', () => {
    expect([formatFor(42), formatFor(12 * 60 + 59), formatFor(3 * 3600), formatFor(2 * 3600 + 5 * 60), formatFor(3 * 86_400)]).toEqual([
      '42 s', '12 min', '3 h', '2 h 5 min', '3 d',
    ]);
  });

  it('shows an instant on the tenant\u2019s clock, whatever the browser\u2019s zone', () => {
    const at = Date.parse('2026-12-03T22:30:00Z');
    expect(clockTime(at, 'UTC')).toBe('22:30');
    expect(clockTime(at, 'Europe/Berlin')).toBe('23:30');
    expect(clockTime(at, 'Asia/Kolkata')).toBe('04:00');
    expect(dateIn(at, 'Asia/Kolkata')).toBe('2026-12-04');
    expect(dateIn(at, 'America/New_York')).toBe('2026-12-03');
  });

  it('says when a status ends: the time today, the weekday and time another day', () => {
    const now = Date.parse('2026-12-03T22:30:00Z');
    expect(endTime('2026-12-03T22:45:00Z', now, 'UTC')).toBe('22:45');
    expect(endTime('2026-12-03T23:15:00Z', now, 'UTC')).toBe('23:15');
    expect(endTime('2026-12-04T08:00:00Z', now, 'UTC')).toBe('Fri 08:00');
    expect(endTime('2026-12-03T23:15:00Z', now, 'Europe/Berlin')).toBe('Fri 00:15');
  });

  it('reads a wall-clock time of the tenant\u2019s zone as the instant it names, across a clock change', () => {
    expect(new Date(instantOf('2026-12-03', '14:30', 'Europe/Berlin')).toISOString()).toBe('2026-12-03T13:30:00.000Z');
    expect(new Date(instantOf('2026-07-01', '14:30', 'Europe/Berlin')).toISOString()).toBe('2026-07-01T12:30:00.000Z');
    expect(new Date(instantOf('2026-03-29', '12:00', 'Europe/Berlin')).toISOString()).toBe('2026-03-29T10:00:00.000Z');
    expect(new Date(instantOf('2026-12-03', '09:15', 'Asia/Kolkata')).toISOString()).toBe('2026-12-03T03:45:00.000Z');
  });

  it('puts the timeline\u2019s marks on the tenant\u2019s wall clock (a half-hour zone\u2019s hours fall at :30 UTC)', () => {
    // Setup
    const end = Date.parse('2026-12-03T12:00:00Z');

    // Action
    const tenMinutes = axisMarks(end - 3_600_000, end, 10, 'UTC');
    const hours = axisMarks(end - 3 * 3_600_000, end, 60, 'Asia/Kolkata');

    // Assertions
    expect(tenMinutes).toHaveLength(7);
    expect(hours.map((t) => new Date(t).toISOString())).toEqual([
      '2026-12-03T09:30:00.000Z', '2026-12-03T10:30:00.000Z', '2026-12-03T11:30:00.000Z',
    ]);
  });
});

describe('the end of a status being set', () => {
  const now = Date.parse('2026-12-03T13:00:00Z');

  it('is a fixed length from the database\u2019s now, a time of day today or tomorrow, or none (the reason\u2019s default)', () => {
    expect(untilOf('15m', now, '', 'UTC')).toBe('2026-12-03T13:15:00.000Z');
    expect(untilOf('1h', now, '', 'UTC')).toBe('2026-12-03T14:00:00.000Z');
    expect(untilOf('time', now, '14:30', 'Europe/Berlin')).toBe('2026-12-03T13:30:00.000Z');
    expect(untilOf('time', now, '13:30', 'Europe/Berlin')).toBe('2026-12-04T12:30:00.000Z');
    expect(untilOf('none', now, '', 'UTC')).toBeUndefined();
    expect(untilOf('default', now, '', 'UTC')).toBeUndefined();
  });

  it('offers only a status\u2019s live reasons, in the tenant\u2019s order', () => {
    // Setup
    const r = (id: string, status: TenantReason['status'], position: number, retired = false): TenantReason => ({
      id, status, label: id, position, defaultDurationS: null, retired,
    });

    // Action
    const away = reasonsOf([r('Training', 'away', 3), r('Lunch', 'away', 1), r('Old', 'away', 0, true), r('Focus', 'dnd', 1), r('Meeting', 'away', 2)], 'away');

    // Assertions
    expect(away.map((x) => x.id)).toEqual(['Lunch', 'Meeting', 'Training']);
  });
});

describe('who set a status', () => {
  it('names someone other than the agent and nobody for the agent\u2019s own choice', () => {
    const morgan = { id: 'u9', name: 'Morgan Supervisor' };
    expect(setByOther({ id: 'a1', name: 'Bea', setBy: morgan })).toBe('Morgan Supervisor');
    expect(setByOther({ id: 'a1', name: 'Bea', setBy: { id: 'u1', name: null } })).toBe('u1');
    expect(setByOther({ id: 'a1', name: 'Bea', setBy: { id: 'u1', name: 'Bea' } })).toBeNull();
    expect(setByOther({ id: 'a1', name: 'Bea', setBy: { id: 'u1', name: 'B.' } }, 'u1')).toBeNull();
    expect(setByOther({ id: 'a1', name: 'Bea', setBy: null })).toBeNull();
  });
});
