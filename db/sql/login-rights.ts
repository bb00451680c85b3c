// What the current login may do, measured against presence_app: whether it is a superuser, owns (or can act as the
// owner of) schema presence, and is a member of the app role. APP_DATABASE_URL is checked with it.
import type { Database } from '../../server/database/handle.ts';

export interface LoginRights {
  role: string;
  superuser: boolean;
  /** Null when the database has no schema presence (not migrated). */
  schema_owner: string | null;
  acts_as_owner: boolean;
  app_role: boolean;
  member: boolean;
}

export async function loginRights(db: Database, appRole: string): Promise<LoginRights> {
  const { rows } = await db.query<LoginRights>(
    `select current_user as role,
            r.rolsuper as superuser,
            pg_get_userbyid(n.nspowner) as schema_owner,
            coalesce(pg_has_role(current_user, n.nspowner, 'MEMBER'), false) as acts_as_owner,
            exists (select 1 from pg_roles where rolname = $1) as app_role,
            exists (select 1 from pg_roles where rolname = $1) and pg_has_role(current_user, $1::name, 'USAGE') as member
       from pg_roles r left join pg_namespace n on n.nspname = 'presence'
      where r.rolname = current_user`,
    [appRole],
  );
  return rows[0]!;
}
