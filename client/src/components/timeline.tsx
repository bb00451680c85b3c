// An agent's availability picture: the status history as coloured spans on an SVG time axis, with a text
// alternative for screen readers. The last 24 hours are fetched once; transitions pushed by the stream extend them
// live. The window shown ends now and spans 24 h (a row), or 8 h or 1 h (the agent's panel zooms, so a minute is
// visible); its marks fall on the tenant's wall clock.
import { useEffect, useState } from 'react';
import { presence } from '../api.ts';
import { statusLabels, type History, type StatusChange } from '../presence/index.ts';
import { axisMarks, clockTime } from '../console.ts';
import { formatDuration, spansOf, totals } from '../timeline.ts';

const hourMs = 3_600_000;
const dayMs = 24 * hourMs;

/** Minutes between marks for each window. */
const markStepMin: Record<number, number> = { [hourMs]: 10, [8 * hourMs]: 60, [dayMs]: 360 };

export interface TimelineProps {
  agentId: string;
  agentName: string;
  changes: readonly StatusChange[];
  /** The right edge of the picture (local time, advanced by the page every minute, or second when zoomed). */
  now: number;
  timeZone: string;
  /** The window's length: 24 h (default), 8 h or 1 h. */
  windowMs?: number;
}

function windowName(ms: number): string {
  return ms >= hourMs ? `${ms / hourMs} hour${ms === hourMs ? '' : 's'}` : `${ms / 60_000} minutes`;
}

export function Timeline({ agentId, agentName, changes, now, timeZone, windowMs = dayMs }: TimelineProps) {
  const [history, setHistory] = useState<History | null>(null);
  const [failed, setFailed] = useState(false);

  useEffect(() => {
    let cancelled = false;
    const to = new Date();
    presence
      .history(agentId, new Date(to.getTime() - dayMs), to)
      .then((h) => !cancelled && setHistory(h))
      .catch(() => !cancelled && setFailed(true));
    return () => {
      cancelled = true;
    };
  }, [agentId]);

  const span = windowName(windowMs);
  if (failed) return <p className="timeline-note">The last {span} could not be loaded.</p>;
  if (!history) return <div className="timeline timeline-loading" aria-hidden="true" />;

  const start = now - windowMs;
  const spans = spansOf(history, changes, start, now);
  const sums = totals(spans);
  const summary = [...sums.entries()].map(([status, ms]) => `${statusLabels[status]} ${formatDuration(ms)}`).join(', ');
  const pct = (t: number) => `${(((t - start) / windowMs) * 100).toFixed(3)}%`;
  const marks = axisMarks(start, now, markStepMin[windowMs] ?? 60, timeZone).filter((t) => t > start && t < now);

  return (
    <svg className="timeline" role="img" aria-label={`${agentName}, last ${span}: ${summary}`} width="100%" height="34">
      <title>{`Last ${span}: ${summary}`}</title>
      <rect x="0" y="0" width="100%" height="18" className="timeline-track" />
      {spans.map((s) => (
        <rect
          key={s.start}
          x={pct(s.start)}
          y="0"
          width={pct(start + (s.end - s.start))}
          height="18"
          className={`span span-${s.status}`}
        >
          <title>{`${statusLabels[s.status]} ${formatDuration(s.end - s.start)}, from ${clockTime(s.start, timeZone)}`}</title>
        </rect>
      ))}
      {marks.map((t) => (
        <g key={t}>
          <line x1={pct(t)} x2={pct(t)} y1="0" y2="22" className="timeline-mark" />
          <text x={pct(t)} y="32" textAnchor="middle" className="timeline-label">
            {clockTime(t, timeZone)}
          </text>
        </g>
      ))}
    </svg>
  );
}
