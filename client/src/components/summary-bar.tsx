// The team in figures, as the database counts them: agents per status and per reason, free chat capacity among
// available agents, queued chats and the oldest one's wait (ticking on from the server's figure).
import { STATUSES, statusLabels, type LiveSummary } from '../presence/index.ts';
import { formatFor } from '../console.ts';

export function SummaryBar({ summary, now }: { summary: LiveSummary; now: number }) {
  const waited =
    summary.oldestQueuedWaitS === null
      ? null
      : summary.oldestQueuedWaitS + Math.max(0, Math.floor((now - summary.receivedAt) / 1000));
  return (
    <section className="summary" aria-label="Team summary" data-testid="summary">
      <ul className="summary-statuses">
        {STATUSES.map((status) => (
          <li key={status} className={`tile tile-${status}`} data-status={status}>
            <span className="tile-figure">{summary.statuses[status]}</span>
            <span className="tile-label">{statusLabels[status]}</span>
          </li>
        ))}
        <li className="tile" data-testid="free-capacity">
          <span className="tile-figure">{summary.freeCapacity}</span>
          <span className="tile-label">free chat slots</span>
        </li>
        <li className="tile" data-testid="queue">
          <span className="tile-figure">{summary.queuedChats}</span>
          <span className="tile-label">
            queued{waited !== null && <>, oldest {formatFor(waited)}</>}
          </span>
        </li>
      </ul>
      {summary.reasons.length > 0 && (
        <ul className="summary-reasons" aria-label="Agents per reason">
          {summary.reasons.map((r) => (
            <li key={r.id}>
              <span className={`swatch span-${r.status}`} aria-hidden="true" />
              {statusLabels[r.status]} · {r.label}: <strong>{r.count}</strong>
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}
