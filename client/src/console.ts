// The supervisor's console's arithmetic, pure so it is tested without a browser: the team sorted, filtered and
// searched; "for 12 min"; times in the tenant's time zone; an end chosen as a wall-clock time there.
import type { AgentStatus, LiveAgent, TenantReason } from './presence/index.ts';
import { STATUSES } from './presence/index.ts';

export const SORTS = ['name', 'status', 'since'] as const;
export type Sort = (typeof SORTS)[number];
export const sortLabels: Record<Sort, string> = { name: 'Name', status: 'Status', since: 'Longest in status' };

export interface ListView {
  sort: Sort;
  /** null: every status. */
  status: AgentStatus | null;
  /** Part of a name or email, any case. */
  query: string;
}

const statusOrder = new Map(STATUSES.map((s, i) => [s, i]));

/** The team as the console lists it: filtered by status, searched by name or email, sorted (name breaks ties). */
export function arrange<A extends Pick<LiveAgent, 'name' | 'email' | 'status' | 'since'>>(agents: readonly A[], view: ListView): A[] {
  const query = view.query.trim().toLocaleLowerCase();
  const byName = (a: A, b: A) => a.name.localeCompare(b.name);
  // Longest in its status first; an agent with no known start (never changed) last.
  const sinceOf = (a: A) => (a.since === null ? Number.POSITIVE_INFINITY : Date.parse(a.since));
  const compare: Record<Sort, (a: A, b: A) => number> = {
    name: byName,
    status: (a, b) => statusOrder.get(a.status)! - statusOrder.get(b.status)! || byName(a, b),
    since: (a, b) => sinceOf(a) - sinceOf(b) || byName(a, b),
  };
  return agents
    .filter((a) => view.status === null || a.status === view.status)
    .filter((a) => query === '' || a.name.toLocaleLowerCase().includes(query) || a.email.toLocaleLowerCase().includes(query))
    .sort(compare[view.sort]);
}

/** "12 min", "2 h 5 min", "3 d": how long, for people. */
export function formatFor(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds));
  if (s < 60) return `${s} s`;
  const minutes = Math.floor(s / 60);
  if (minutes < 60) return `${minutes} min`;
  const hours = Math.floor(minutes / 60);
  if (hours < 24) return minutes % 60 === 0 ? `${hours} h` : `${hours} h ${minutes % 60} min`;
  return `${Math.floor(hours / 24)} d`;
}

const formats = new Map<string, Intl.DateTimeFormat>();
function format(timeZone: string, options: Intl.DateTimeFormatOptions): Intl.DateTimeFormat {
  const key = `${timeZone} ${JSON.stringify(options)}`;
  let f = formats.get(key);
  if (!f) {
    f = new Intl.DateTimeFormat('en-GB', { ...options, timeZone });
    formats.set(key, f);
  }
  return f;
}

/** "14:30" in the tenant's time zone. */
export function clockTime(at: number | string, timeZone: string, seconds = false): string {
  return format(timeZone, { hour: '2-digit', minute: '2-digit', ...(seconds ? { second: '2-digit' } : {}), hourCycle: 'h23' }).format(
    typeof at === 'string' ? Date.parse(at) : at,
  );
}

/** The date (YYYY-MM-DD) and wall-clock fields of an instant in a time zone. */
function wallClock(at: number, timeZone: string): { y: number; mo: number; d: number; h: number; mi: number; s: number } {
  const parts = format(timeZone, {
    year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23',
  }).formatToParts(at);
  const n = (type: string) => Number(parts.find((p) => p.type === type)!.value);
  return { y: n('year'), mo: n('month'), d: n('day'), h: n('hour'), mi: n('minute'), s: n('second') };
}

/** The date of an instant in a time zone: "2026-12-03". */
export function dateIn(at: number, timeZone: string): string {
  const w = wallClock(at, timeZone);
  return `${w.y}-${String(w.mo).padStart(2, '0')}-${String(w.d).padStart(2, '0')}`;
}

/** How far the zone's wall clock is ahead of UTC at that instant, in ms. */
export function zoneOffsetMs(at: number, timeZone: string): number {
  const w = wallClock(at, timeZone);
  return Date.UTC(w.y, w.mo - 1, w.d, w.h, w.mi, w.s) - Math.floor(at / 1000) * 1000;
}

/**
 * The instant a wall-clock time ("14:30") of a date ("2026-12-03") names in a time zone. A time a clock change
 * skips is read with the offset before the change.
 */
export function instantOf(date: string, time: string, timeZone: string): number {
  const [y, mo, d] = date.split('-').map(Number) as [number, number, number];
  const [h, mi] = time.split(':').map(Number) as [number, number];
  const asUtc = Date.UTC(y, mo - 1, d, h, mi);
  const first = asUtc - zoneOffsetMs(asUtc, timeZone);
  return asUtc - zoneOffsetMs(first, timeZone);
}

/** Marks on a time axis at every `stepMin` minutes of the zone's wall clock, inside [start, end]. */
export function axisMarks(start: number, end: number, stepMin: number, timeZone: string): number[] {
  const step = stepMin * 60_000;
  const offset = zoneOffsetMs(end, timeZone);
  const marks: number[] = [];
  for (let wall = Math.ceil((start + offset) / step) * step; wall - offset <= end; wall += step) marks.push(wall - offset);
  return marks;
}

/** The choices of an end for a status being set: none, fixed lengths, the reason's default, a time of day. */
export type EndChoice = 'none' | '15m' | '30m' | '1h' | 'default' | 'time';
export const endLengthsS: Partial<Record<EndChoice, number>> = { '15m': 900, '30m': 1_800, '1h': 3_600 };

export function endLabel(choice: EndChoice, reason: TenantReason | null): string {
  switch (choice) {
    case 'none':
      return 'until changed';
    case '15m':
      return 'for 15 min';
    case '30m':
      return 'for 30 min';
    case '1h':
      return 'for 1 h';
    case 'default':
      return `the reason's default (${formatFor(reason?.defaultDurationS ?? 0)})`;
    case 'time':
      return 'until a time…';
  }
}

/** The `until` to send, or undefined to send none (the server then applies the reason's default, if any). */
export function untilOf(choice: EndChoice, serverNow: number, timeOfDay: string, timeZone: string): string | undefined {
  const length = endLengthsS[choice];
  if (length !== undefined) return new Date(serverNow + length * 1000).toISOString();
  if (choice !== 'time') return undefined;
  const today = dateIn(serverNow, timeZone);
  let at = instantOf(today, timeOfDay, timeZone);
  // A time already past today means tomorrow's.
  if (at <= serverNow) at = instantOf(dateIn(at + 86_400_000, timeZone), timeOfDay, timeZone);
  return new Date(at).toISOString();
}

/** The live reasons a status may name, in the tenant's order. */
export function reasonsOf(reasons: readonly TenantReason[], status: AgentStatus): TenantReason[] {
  return reasons.filter((r) => r.status === status && !r.retired).sort((a, b) => a.position - b.position);
}

/** How far the database's clock is ahead of this one, from a message the database dated and when it arrived. */
export function skewOf(message: { at: string; receivedAt: number } | null): number {
  return message ? Date.parse(message.at) - message.receivedAt : 0;
}

/**
 * Who to name as having set the agent's chosen status: a person other than the agent, or null. The agent's own
 * choice is recorded with the agent as its author; a page names only someone else. `selfId` is the agent's
 * person id when the page knows it (its own page); otherwise the agent's id and name tell.
 */
export function setByOther(agent: Pick<LiveAgent, 'id' | 'name' | 'setBy'>, selfId?: string): string | null {
  const by = agent.setBy;
  if (!by) return null;
  if (by.id === selfId || by.id === agent.id || (by.name !== null && by.name === agent.name)) return null;
  return by.name ?? by.id;
}

/** When a status ends, on the tenant's clock: "14:30" today, "Fri 09:00" another day. */
export function endTime(until: string, now: number, timeZone: string): string {
  const at = Date.parse(until);
  if (dateIn(at, timeZone) === dateIn(now, timeZone)) return clockTime(at, timeZone);
  return `${format(timeZone, { weekday: 'short' }).format(at)} ${clockTime(at, timeZone)}`;
}
