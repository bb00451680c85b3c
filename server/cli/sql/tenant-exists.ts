// Whether a tenant id names a tenant; a value not of the tenants' key type is PostgreSQL's class 22 error.
import type { Database } from '../../database/handle.ts';

export async function tenantExists(db: Database, tenant: string): Promise<boolean> {
  const { rows } = await db.query<{ exists: boolean }>(
    'select exists (select 1 from public.tenants t where t.id = $1::presence.tenant_key) as exists',
    [tenant],
  );
  return rows[0]!.exists;
}
