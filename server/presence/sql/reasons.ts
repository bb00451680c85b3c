// A tenant's reasons: presence.reasons (the list), presence.add_reason and presence.update_reason (managers only:
// the router checks who manages; the functions check the tenant, the status, the label and the limits).
import type { AgentStatus, NewReasonRequest, ReasonUpdate, TenantReason } from '../../http/contract.ts';
import type { Database } from '../../database/handle.ts';

interface ReasonRow {
  id: string;
  status: AgentStatus;
  label: string;
  position: number;
  default_duration_s: number | null;
  retired: boolean;
}

function toReason(r: ReasonRow): TenantReason {
  return {
    id: r.id,
    status: r.status,
    label: r.label,
    position: r.position,
    defaultDurationS: r.default_duration_s,
    retired: r.retired,
  };
}

const COLUMNS = 'id, status, label, position, default_duration_s, retired';

/** Every reason of the tenant, retired ones too, by status and position. */
export async function reasonsOfTenant(db: Database, tenantId: string): Promise<TenantReason[]> {
  const { rows } = await db.query<ReasonRow>(
    `select ${COLUMNS} from presence.reasons where tenant_id = $1
      order by array_position(array['available', 'away', 'dnd', 'offline'], status), position`,
    [tenantId],
  );
  return rows.map(toReason);
}

export async function addReason(db: Database, tenantId: string, reason: NewReasonRequest): Promise<TenantReason> {
  const { rows } = await db.query<ReasonRow>(`select ${COLUMNS} from presence.add_reason($1, $2, $3, $4)`, [
    tenantId,
    reason.status,
    reason.label,
    reason.defaultDurationS ?? null,
  ]);
  return toReason(rows[0]!);
}

export async function updateReason(db: Database, tenantId: string, reasonId: string, update: ReasonUpdate): Promise<TenantReason> {
  const { rows } = await db.query<ReasonRow>(
    `select ${COLUMNS} from presence.update_reason($1, $2, p_label => $3, p_position => $4, p_default_duration_s => $5,
                                                   p_clear_default_duration => $6, p_retired => $7)`,
    [
      tenantId,
      reasonId,
      update.label ?? null,
      update.position ?? null,
      update.defaultDurationS ?? null,
      update.defaultDurationS === null,
      update.retired ?? null,
    ],
  );
  return toReason(rows[0]!);
}
