// presence_accounts.create_tenant: a tenant of the standalone server, with the default presence settings.
import type { Queryable } from '../../../db/sql/client.ts';

/** Returns the new tenant's id. */
export async function createTenant(db: Queryable, name: string): Promise<string> {
  const { rows } = await db.query<{ id: string }>('select presence_accounts.create_tenant($1)::text as id', [name]);
  return rows[0]!.id;
}
