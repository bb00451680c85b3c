// One agent, opened from the console's list: where it stands now, a timeline that zooms (1 h, 8 h, 24 h), today's
// totals per status and reason and today's transitions (time, from → to, reason, what caused it, who), all as the
// server reckons the tenant's day in its time zone; and, for a manager, the form to set the agent's status.
import { useEffect, useRef, useState } from 'react';
import { presence } from '../api.ts';
import { mechanismLabels, statusLabels, type AgentDay, type LiveAgent, type StatusChange, type TenantReason } from '../presence/index.ts';
import { clockTime, endTime, formatFor, setByOther } from '../console.ts';
import { SetStatusForm } from './set-status-form.tsx';
import { StatusBadge } from './status-badge.tsx';
import { Timeline } from './timeline.tsx';

const hourMs = 3_600_000;
const zooms = [
  { label: '1 h', ms: hourMs },
  { label: '8 h', ms: 8 * hourMs },
  { label: '24 h', ms: 24 * hourMs },
] as const;

export interface AgentPanelProps {
  agent: LiveAgent;
  changes: readonly StatusChange[];
  now: number;
  skewMs: number;
  timeZone: string;
  canManage: boolean;
  reasons: readonly TenantReason[];
  onClose: () => void;
  onUnauthorized: () => void;
}

export function AgentPanel({ agent, changes, now, skewMs, timeZone, canManage, reasons, onClose, onUnauthorized }: AgentPanelProps) {
  const [zoom, setZoom] = useState<number>(hourMs);
  const [day, setDay] = useState<AgentDay | null>(null);
  const [failed, setFailed] = useState(false);
  const section = useRef<HTMLElement>(null);

  // On a phone the panel comes after the list: bring it into view when another agent is opened.
  // (Braces: Chromium's scrollIntoView returns a promise, which React would take for a cleanup.)
  useEffect(() => {
    void section.current?.scrollIntoView?.({ block: 'nearest' });
  }, [agent.id]);

  // Fetched on opening and again after each transition the stream brings, so the day's list is the server's.
  useEffect(() => {
    let cancelled = false;
    presence
      .agentDay(agent.id)
      .then((d) => {
        if (cancelled) return;
        setDay(d);
        setFailed(false);
      })
      .catch(() => !cancelled && setFailed(true));
    return () => {
      cancelled = true;
    };
  }, [agent.id, changes.length]);

  const by = setByOther(agent);
  const headingId = `panel-${agent.id}`;
  return (
    <section ref={section} className="panel" aria-labelledby={headingId} data-testid="agent-panel">
      <div className="panel-head">
        <h2 id={headingId}>{agent.name}</h2>
        <button type="button" className="secondary small" onClick={onClose}>
          Close
        </button>
      </div>
      <p className="panel-now">
        <StatusBadge status={agent.status} />
        <span>
          {[
            agent.reason && `· ${agent.reason.label}`,
            agent.since && `for ${formatFor((now + skewMs - Date.parse(agent.since)) / 1000)}`,
            agent.until && `until ${endTime(agent.until, now + skewMs, timeZone)}`,
            by && `set by ${by}`,
          ]
            .filter(Boolean)
            .join(', ')}
        </span>
      </p>

      <div className="zoom" role="group" aria-label="Timeline span">
        {zooms.map((z) => (
          <button
            key={z.ms}
            type="button"
            className={zoom === z.ms ? 'small' : 'secondary small'}
            aria-pressed={zoom === z.ms}
            onClick={() => setZoom(z.ms)}
          >
            {z.label}
          </button>
        ))}
      </div>
      <Timeline agentId={agent.id} agentName={agent.name} changes={changes} now={now} timeZone={timeZone} windowMs={zoom} />

      {canManage && (
        <SetStatusForm
          agentId={agent.id}
          agentName={agent.name}
          reasons={reasons}
          timeZone={timeZone}
          serverNow={() => Date.now() + skewMs}
          onUnauthorized={onUnauthorized}
        />
      )}

      {failed && <p className="timeline-note">Today could not be loaded.</p>}
      {day && (
        <>
          <h3>Today ({day.date}, {day.timeZone})</h3>
          <table className="totals" data-testid="day-totals">
            <thead>
              <tr>
                <th scope="col">Status</th>
                <th scope="col">Reason</th>
                <th scope="col">Time</th>
              </tr>
            </thead>
            <tbody>
              {day.totals.map((t) => (
                <tr key={`${t.status} ${t.reason?.id ?? ''}`}>
                  <td>{statusLabels[t.status]}</td>
                  <td>{t.reason?.label ?? '—'}</td>
                  <td>{formatFor(t.seconds)}</td>
                </tr>
              ))}
            </tbody>
          </table>
          <h3>Events</h3>
          {day.events.length === 0 ? (
            <p className="timeline-note">No changes today: {statusLabels[day.statusAtStart]} all day.</p>
          ) : (
            <ol className="events" data-testid="day-events">
              {[...day.events].reverse().map((e, i) => (
                <li key={`${e.at} ${i}`} data-mechanism={e.mechanism}>
                  <time dateTime={e.at}>{clockTime(e.at, timeZone, true)}</time>
                  <span>
                    {statusLabels[e.from]} → <strong>{statusLabels[e.to]}</strong>
                    {e.reason && <> · {e.reason.label}</>}
                  </span>
                  <span className="event-how">
                    {mechanismLabels[e.mechanism]}
                    {e.actor && e.mechanism !== 'manual' && <> ({e.actor.name ?? e.actor.id})</>}
                  </span>
                </li>
              ))}
            </ol>
          )}
        </>
      )}
    </section>
  );
}
