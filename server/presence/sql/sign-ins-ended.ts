// presence.sign_ins_ended: which sign-ins of this process's open streams the database says have ended.
import type { Database } from '../../database/handle.ts';

export async function signInsEnded(
  db: Database,
  signIns: Array<{ tenantId: string; signIn: string }>,
): Promise<Array<{ tenantId: string; signIn: string }>> {
  if (signIns.length === 0) return [];
  const { rows } = await db.query<{ tenant_id: string; sign_in: string }>(
    'select tenant_id, sign_in from presence.sign_ins_ended($1, $2)',
    [signIns.map((s) => s.tenantId), signIns.map((s) => s.signIn)],
    'presence_sign_ins_ended',
  );
  return rows.map((r) => ({ tenantId: r.tenant_id, signIn: r.sign_in }));
}
