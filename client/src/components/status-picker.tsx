// The signed-in agent's own status: what it chooses by hand, with a reason of that status if the tenant has some.
// The server keeps it apart from liveness, so heartbeats never override it. Above the picker, where the agent
// stands as the server says: "Away · Meeting, set by Morgan", "until 14:30" (a supervisor's choice shows at once,
// and the agent may choose again).
import { useEffect, useState } from 'react';
import { presence } from '../api.ts';
import { HttpError, STATUSES, statusLabels, type AgentStatus, type LiveAgent, type TenantReason } from '../presence/index.ts';
import { endTime, reasonsOf, setByOther } from '../console.ts';

export interface StatusPickerProps {
  chosen: AgentStatus;
  /** The agent as the stream has it, once it has arrived. */
  mine?: LiveAgent | undefined;
  /** The signed-in person's id, to tell the agent's own choice from someone else's. */
  selfId?: string;
  reasons?: readonly TenantReason[];
  timeZone?: string;
  onUnauthorized: () => void;
}

export function StatusPicker({ chosen, mine, selfId, reasons = [], timeZone = 'UTC', onUnauthorized }: StatusPickerProps) {
  const [value, setValue] = useState(chosen);
  const [reasonId, setReasonId] = useState(mine?.reason?.id ?? '');
  const [saving, setSaving] = useState(false);
  const [error, setError] = useState<string | null>(null);

  // The stream's word wins once the change has landed (or when another tab or a supervisor changed it).
  useEffect(() => setValue(chosen), [chosen]);
  const currentReason = mine?.reason?.id ?? '';
  useEffect(() => setReasonId(currentReason), [currentReason]);

  async function choose(status: AgentStatus, reason: string) {
    const before = { value, reasonId };
    setValue(status);
    setReasonId(reason);
    setSaving(true);
    setError(null);
    try {
      await presence.setStatus(status, reason ? { reason } : {});
    } catch (e) {
      setValue(before.value);
      setReasonId(before.reasonId);
      if (e instanceof HttpError && e.status === 401) onUnauthorized();
      else setError(e instanceof HttpError && e.code === 'invalid_input' ? e.message : 'Your status could not be saved. Try again.');
    } finally {
      setSaving(false);
    }
  }

  const choices = reasonsOf(reasons, value);
  const by = mine ? setByOther(mine, selfId) : null;
  return (
    <div className="picker">
      {mine && (
        <p className="my-state" data-testid="my-state">
          <strong>
            {statusLabels[mine.chosenStatus]}
            {mine.reason && ` · ${mine.reason.label}`}
          </strong>
          {by && <>, set by {by}</>}
          {mine.until && <span className="my-until"> until {endTime(mine.until, Date.now(), timeZone)}</span>}
        </p>
      )}
      <label htmlFor="my-status">My status</label>
      <select
        id="my-status"
        name="status"
        value={value}
        aria-busy={saving}
        onChange={(e) => void choose(e.target.value as AgentStatus, '')}
      >
        {STATUSES.map((s) => (
          <option key={s} value={s}>
            {statusLabels[s]}
          </option>
        ))}
      </select>
      {choices.length > 0 && (
        <>
          <label htmlFor="my-reason">Reason</label>
          <select id="my-reason" name="reason" value={reasonId} aria-busy={saving} onChange={(e) => void choose(value, e.target.value)}>
            <option value="">No reason</option>
            {choices.map((r) => (
              <option key={r.id} value={r.id}>
                {r.label}
              </option>
            ))}
          </select>
        </>
      )}
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
    </div>
  );
}
