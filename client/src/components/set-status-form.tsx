// A manager sets an agent's status: a status, a reason of that status (the tenant's, live ones), and an end: none
// (or the reason's default), 15 min, 30 min, 1 h, or a time of day in the tenant's time zone. The server checks it
// all again and says which field was wrong; its message is shown as it is.
import { useState, type FormEvent } from 'react';
import { presence } from '../api.ts';
import { HttpError, statusLabels, type AgentStatus, type TenantReason } from '../presence/index.ts';
import { endLabel, reasonsOf, untilOf, type EndChoice } from '../console.ts';
import { StatusOptions } from './status-options.tsx';

export interface SetStatusFormProps {
  agentId: string;
  agentName: string;
  reasons: readonly TenantReason[];
  timeZone: string;
  /** The database's time now, as this page reckons it (the local clock plus the skew the server's messages show). */
  serverNow: () => number;
  onUnauthorized: () => void;
}

export function SetStatusForm({ agentId, agentName, reasons, timeZone, serverNow, onUnauthorized }: SetStatusFormProps) {
  const [status, setStatus] = useState<AgentStatus>('away');
  const [reasonId, setReasonId] = useState('');
  const [end, setEnd] = useState<EndChoice>('none');
  const [time, setTime] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [done, setDone] = useState<string | null>(null);

  const choices = reasonsOf(reasons, status);
  const reason = choices.find((r) => r.id === reasonId) ?? null;
  const ends: EndChoice[] = [reason?.defaultDurationS ? 'default' : 'none', '15m', '30m', '1h', 'time'];
  const endChoice = ends.includes(end) ? end : ends[0]!;

  async function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    setBusy(true);
    setError(null);
    setDone(null);
    try {
      const until = untilOf(endChoice, serverNow(), time, timeZone);
      await presence.setAgentStatus(agentId, {
        status,
        ...(reason ? { reason: reason.id } : {}),
        ...(until ? { until } : {}),
      });
      setDone(`${agentName} is set ${statusLabels[status]}${reason ? ` · ${reason.label}` : ''}.`);
    } catch (e) {
      if (e instanceof HttpError && e.status === 401) onUnauthorized();
      else setError(e instanceof HttpError ? e.message : 'The status could not be set. Try again.');
    } finally {
      setBusy(false);
    }
  }

  const id = (field: string) => `set-${field}-${agentId}`;
  return (
    <form className="set-status" onSubmit={(e) => void submit(e)} aria-label={`Set ${agentName}'s status`}>
      <div className="field">
        <label htmlFor={id('status')}>Status</label>
        <select
          id={id('status')}
          name="set-status"
          value={status}
          onChange={(e) => {
            setStatus(e.target.value as AgentStatus);
            setReasonId('');
          }}
        >
          <StatusOptions />
        </select>
      </div>
      <div className="field">
        <label htmlFor={id('reason')}>Reason</label>
        <select id={id('reason')} name="set-reason" value={reasonId} onChange={(e) => setReasonId(e.target.value)}>
          <option value="">No reason</option>
          {choices.map((r) => (
            <option key={r.id} value={r.id}>
              {r.label}
            </option>
          ))}
        </select>
      </div>
      <div className="field">
        <label htmlFor={id('end')}>Ends</label>
        <select id={id('end')} name="set-end" value={endChoice} onChange={(e) => setEnd(e.target.value as EndChoice)}>
          {ends.map((choice) => (
            <option key={choice} value={choice}>
              {endLabel(choice, reason)}
            </option>
          ))}
        </select>
      </div>
      {endChoice === 'time' && (
        <div className="field">
          <label htmlFor={id('time')}>At ({timeZone})</label>
          <input id={id('time')} name="set-time" type="time" required value={time} onChange={(e) => setTime(e.target.value)} />
        </div>
      )}
      <button type="submit" disabled={busy}>
        {busy ? 'Setting…' : 'Set status'}
      </button>
      <p className="error" role="alert">
        {error}
      </p>
      <p className="done" role="status">
        {done}
      </p>
    </form>
  );
}
