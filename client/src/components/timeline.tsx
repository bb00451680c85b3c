// A 24-hour availability picture for one agent: the status history as coloured spans on an SVG time axis,
// with a text alternative for screen readers. Fetched once; transitions pushed by the stream extend it live.
import { useEffect, useState } from 'react';
import { presence } from '../api.ts';
import { statusLabels, type History, type StatusChange } from '../presence/index.ts';
import { formatDuration, spansOf, totals } from '../timeline.ts';

const dayMs = 24 * 60 * 60 * 1000;

export interface TimelineProps {
  agentId: string;
  agentName: string;
  changes: readonly StatusChange[];
  /** The right edge of the picture (local time, advanced by the page every minute). */
  now: number;
}

export function Timeline({ agentId, agentName, changes, now }: TimelineProps) {
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

  if (failed) return <p className="timeline-note">The last 24 hours could not be loaded.</p>;
  if (!history) return <div className="timeline timeline-loading" aria-hidden="true" />;

  const start = now - dayMs;
  const spans = spansOf(history, changes, start, now);
  const sums = totals(spans);
  const summary = [...sums.entries()].map(([status, ms]) => `${statusLabels[status]} ${formatDuration(ms)}`).join(', ');
  const pct = (t: number) => `${(((t - start) / dayMs) * 100).toFixed(3)}%`;
  // Hour marks every 6 hours, on the local clock.
  const marks: number[] = [];
  const firstMark = new Date(start);
  firstMark.setMinutes(0, 0, 0);
  for (let t = firstMark.getTime() + 3_600_000; t < now; t += 3_600_000) {
    if (new Date(t).getHours() % 6 === 0) marks.push(t);
  }

  return (
    <svg
      className="timeline"
      role="img"
      aria-label={`${agentName}, last 24 hours: ${summary}`}
      width="100%"
      height="34"
    >
      <title>{`Last 24 hours: ${summary}`}</title>
      <rect x="0" y="0" width="100%" height="18" className="timeline-track" />
      {spans.map((span) => (
        <rect
          key={span.start}
          x={pct(span.start)}
          y="0"
          width={pct(start + (span.end - span.start))}
          height="18"
          className={`span span-${span.status}`}
        >
          <title>{`${statusLabels[span.status]} ${formatDuration(span.end - span.start)}, from ${new Date(span.start).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' })}`}</title>
        </rect>
      ))}
      {marks.map((t) => (
        <g key={t}>
          <line x1={pct(t)} x2={pct(t)} y1="0" y2="22" className="timeline-mark" />
          <text x={pct(t)} y="32" textAnchor="middle" className="timeline-label">
            {new Date(t).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' })}
          </text>
        </g>
      ))}
    </svg>
  );
}
