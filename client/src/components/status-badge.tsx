import { statusLabels, type AgentStatus } from '../presence/index.ts';

/** The status as a word and a coloured dot: colour is never the only signal. */
export function StatusBadge({ status }: { status: AgentStatus }) {
  return (
    <span className={`badge badge-${status}`}>
      <span className="badge-dot" aria-hidden="true" />
      {statusLabels[status]}
    </span>
  );
}
