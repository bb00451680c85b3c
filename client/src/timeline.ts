// The 24-hour availability picture's arithmetic: status history (plus transitions pushed since it was fetched)
// cut into spans inside a time window. Pure, so it is tested without a browser.
import type { AgentStatus, History, StatusChange } from '../../server/http/contract.ts';

export interface Span {
  status: AgentStatus;
  start: number;
  end: number;
}

export function spansOf(
  history: History,
  live: readonly StatusChange[],
  windowStart: number,
  windowEnd: number,
): Span[] {
  const fetched = history.events.map((e) => ({ to: e.to, at: Date.parse(e.at) }));
  const known = new Set(fetched.map(key));
  const events = [
    ...fetched,
    // Pushed transitions not already in the fetched history, each at its own time: one committed after the history
    // was read may be dated before its end (an agent gone silent is recorded offline at last beat + offline_after_s).
    ...live.map((e) => ({ to: e.to, at: Date.parse(e.at) })).filter((e) => !known.has(key(e))),
  ].sort((a, b) => a.at - b.at);

  const spans: Span[] = [];
  let status = history.statusAtStart;
  let start = Date.parse(history.from);
  for (const event of events) {
    spans.push({ status, start, end: event.at });
    status = event.to;
    start = event.at;
  }
  spans.push({ status, start, end: Math.max(start, windowEnd) });

  const clipped: Span[] = [];
  for (const span of spans) {
    const s = Math.max(span.start, windowStart);
    const e = Math.min(span.end, windowEnd);
    if (e <= s) continue;
    const previous = clipped.at(-1);
    if (previous && previous.status === span.status && previous.end === s) previous.end = e;
    else clipped.push({ status: span.status, start: s, end: e });
  }
  return clipped;
}

function key(event: { to: AgentStatus; at: number }): string {
  return `${event.at} ${event.to}`;
}

/** Total time per status, for the picture's text alternative. */
export function totals(spans: readonly Span[]): Map<AgentStatus, number> {
  const sums = new Map<AgentStatus, number>();
  for (const span of spans) sums.set(span.status, (sums.get(span.status) ?? 0) + span.end - span.start);
  return sums;
}

export function formatDuration(ms: number): string {
  const minutes = Math.round(ms / 60_000);
  if (minutes < 60) return `${minutes} min`;
  const hours = Math.floor(minutes / 60);
  const rest = minutes % 60;
  return rest === 0 ? `${hours} h` : `${hours} h ${rest} min`;
}

export function formatSince(seconds: number): string {
  if (seconds < 60) return `${seconds} s`;
  if (seconds < 3_600) return `${Math.floor(seconds / 60)} min`;
  if (seconds < 86_400) return `${Math.floor(seconds / 3_600)} h`;
  return `${Math.floor(seconds / 86_400)} d`;
}
