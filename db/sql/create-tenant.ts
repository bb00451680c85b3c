// presence_accounts.create_tenant: a tenant of this project's own sign-in, with the default settings.
import type { Database } from '../../server/database/handle.ts';

export async function createTenant(db: Database, name: string): Promise<string> {
  const { rows } = await db.query<{ id: string }>('select presence_accounts.create_tenant($1)::text as id', [name]);
  return rows[0]!.id;
}

/** Whether a tenant of this name exists (the demo seed runs once). */
export async function tenantNamed(db: Database, name: string): Promise<boolean> {
  const { rows } = await db.query<{ found: boolean }>('select exists (select 1 from public.tenants where name = $1) as found', [
    name,
  ]);
  return rows[0]!.found;
}
