// The four statuses as <option>s, in the contract's order with its labels: one list for every status <select>.
import { STATUSES, statusLabels } from '../presence/index.ts';

export function StatusOptions() {
  return (
    <>
      {STATUSES.map((s) => (
        <option key={s} value={s}>
          {statusLabels[s]}
        </option>
      ))}
    </>
  );
}
