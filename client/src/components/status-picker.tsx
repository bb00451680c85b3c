// The signed-in agent's own status: what it chooses by hand. The server keeps it apart from liveness, so
// heartbeats never override it; what the dashboard shows is the effective status the server derives.
import { useEffect, useState } from 'react';
import { presence } from '../api.ts';
import { HttpError, STATUSES, statusLabels, type AgentStatus } from '../presence/index.ts';

export function StatusPicker({ chosen, onUnauthorized }: { chosen: AgentStatus; onUnauthorized: () => void }) {
  const [value, setValue] = useState(chosen);
  const [saving, setSaving] = useState(false);
  const [error, setError] = useState<string | null>(null);

  // The stream's word wins once the change has landed (or when another tab changed it).
  useEffect(() => setValue(chosen), [chosen]);

  async function choose(status: AgentStatus) {
    const before = value;
    setValue(status);
    setSaving(true);
    setError(null);
    try {
      await presence.setStatus(status);
    } catch (e) {
      setValue(before);
      if (e instanceof HttpError && e.status === 401) onUnauthorized();
      else setError('Your status could not be saved. Try again.');
    } finally {
      setSaving(false);
    }
  }

  return (
    <div className="picker">
      <label htmlFor="my-status">My status</label>
      <select
        id="my-status"
        name="status"
        value={value}
        aria-busy={saving}
        onChange={(e) => void choose(e.target.value as AgentStatus)}
      >
        {STATUSES.map((s) => (
          <option key={s} value={s}>
            {statusLabels[s]}
          </option>
        ))}
      </select>
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
    </div>
  );
}
