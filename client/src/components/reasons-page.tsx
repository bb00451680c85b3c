// The tenant's reasons, for managers: add one to a status, rename it, move it up or down among its status's
// reasons, retire it (it stays in history and can no longer be chosen) or bring it back. Every change is the
// server's to accept; its message says what was wrong.
import { useState, type FormEvent } from 'react';
import { presence } from '../api.ts';
import { HttpError, STATUSES, statusLabels, type AgentStatus, type ReasonUpdate, type TenantReason } from '../presence/index.ts';
import { formatFor } from '../console.ts';
import { StatusOptions } from './status-options.tsx';

export interface ReasonsPageProps {
  reasons: readonly TenantReason[];
  reload: () => void;
  onUnauthorized: () => void;
}

export function ReasonsPage({ reasons, reload, onUnauthorized }: ReasonsPageProps) {
  const [error, setError] = useState<string | null>(null);

  async function attempt(work: () => Promise<unknown>) {
    setError(null);
    try {
      await work();
    } catch (e) {
      if (e instanceof HttpError && e.status === 401) onUnauthorized();
      else setError(e instanceof HttpError ? e.message : 'The change could not be saved. Try again.');
    } finally {
      reload();
    }
  }
  const update = (id: string, change: ReasonUpdate) => attempt(() => presence.updateReason(id, change));

  return (
    <section className="reasons-page" aria-labelledby="reasons-heading">
      <h2 id="reasons-heading">Reasons</h2>
      <p className="hint">
        What agents and supervisors can name with a status. Routing reads only the four statuses; a retired reason
        stays in the history.
      </p>
      <p className="error" role="alert">
        {error}
      </p>
      <AddReason onAdd={(status, label, minutes) =>
        attempt(() => presence.addReason({ status, label, defaultDurationS: minutes === null ? null : minutes * 60 }))
      } />
      {STATUSES.map((status) => {
        const own = reasons.filter((r) => r.status === status).sort((a, b) => Number(a.retired) - Number(b.retired) || a.position - b.position);
        const live = own.filter((r) => !r.retired);
        return (
          <div key={status} className="reason-group">
            <h3>{statusLabels[status]}</h3>
            {own.length === 0 ? (
              <p className="timeline-note">No reasons.</p>
            ) : (
              <ul className="reasons" data-testid={`reasons-${status}`}>
                {own.map((r) => {
                  const i = live.indexOf(r);
                  return (
                    <ReasonItem
                      key={r.id}
                      reason={r}
                      onRename={(label) => update(r.id, { label })}
                      onRetire={(retired) => update(r.id, { retired })}
                      onUp={i > 0 ? () => update(r.id, { position: live[i - 1]!.position }) : undefined}
                      onDown={i >= 0 && i < live.length - 1 ? () => update(r.id, { position: live[i + 1]!.position }) : undefined}
                    />
                  );
                })}
              </ul>
            )}
          </div>
        );
      })}
    </section>
  );
}

function ReasonItem({
  reason,
  onRename,
  onRetire,
  onUp,
  onDown,
}: {
  reason: TenantReason;
  onRename: (label: string) => Promise<void>;
  onRetire: (retired: boolean) => Promise<void>;
  onUp: (() => Promise<void>) | undefined;
  onDown: (() => Promise<void>) | undefined;
}) {
  const [label, setLabel] = useState(reason.label);
  const id = `reason-${reason.id}`;
  return (
    <li className={reason.retired ? 'reason reason-retired' : 'reason'} data-label={reason.label}>
      <form
        className="reason-rename"
        onSubmit={(e) => {
          e.preventDefault();
          if (label.trim() !== reason.label) void onRename(label.trim());
        }}
      >
        <label htmlFor={id} className="visually-hidden">
          Label of {reason.label}
        </label>
        <input id={id} value={label} maxLength={40} disabled={reason.retired} onChange={(e) => setLabel(e.target.value)} />
        {!reason.retired && label.trim() !== reason.label && (
          <button type="submit" className="small">
            Rename
          </button>
        )}
      </form>
      <span className="reason-default">{reason.defaultDurationS ? `default ${formatFor(reason.defaultDurationS)}` : ''}</span>
      {reason.retired && <span className="reason-flag">retired</span>}
      <span className="reason-actions">
        {!reason.retired && (
          <>
            <button type="button" className="secondary small" disabled={!onUp} onClick={() => void onUp?.()} aria-label={`Move ${reason.label} up`}>
              ↑
            </button>
            <button type="button" className="secondary small" disabled={!onDown} onClick={() => void onDown?.()} aria-label={`Move ${reason.label} down`}>
              ↓
            </button>
          </>
        )}
        <button type="button" className="secondary small" onClick={() => void onRetire(!reason.retired)}>
          {reason.retired ? 'Restore' : 'Retire'}
        </button>
      </span>
    </li>
  );
}

function AddReason({ onAdd }: { onAdd: (status: AgentStatus, label: string, minutes: number | null) => Promise<void> }) {
  const [status, setStatus] = useState<AgentStatus>('away');
  const [label, setLabel] = useState('');
  const [minutes, setMinutes] = useState('');

  async function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    await onAdd(status, label.trim(), minutes === '' ? null : Number(minutes));
    setLabel('');
    setMinutes('');
  }

  return (
    <form className="add-reason" onSubmit={(e) => void submit(e)} aria-label="Add a reason">
      <div className="field">
        <label htmlFor="new-reason-status">Status</label>
        <select id="new-reason-status" value={status} onChange={(e) => setStatus(e.target.value as AgentStatus)}>
          <StatusOptions />
        </select>
      </div>
      <div className="field">
        <label htmlFor="new-reason-label">Label</label>
        <input id="new-reason-label" required maxLength={40} value={label} onChange={(e) => setLabel(e.target.value)} />
      </div>
      <div className="field">
        <label htmlFor="new-reason-minutes">Default length (min)</label>
        <input id="new-reason-minutes" type="number" min={1} max={10080} inputMode="numeric" value={minutes} onChange={(e) => setMinutes(e.target.value)} />
      </div>
      <button type="submit">Add reason</button>
    </form>
  );
}
