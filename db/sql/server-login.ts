// Login role presence_server, as the owner makes it: its password kept in presence_private.server_login (owner-only)
// so that every replica logs in with the same one, its rights, and the request path's timeouts set on it. The role's
// name and the app role's are the project's constants; the verifier is passed as a literal (ALTER ROLE takes none).
import type { Database } from '../../server/database/handle.ts';

/** Replicas starting together serialize here (a transaction-level lock: the caller holds a transaction). */
export async function lockServerLogin(db: Database): Promise<void> {
  await db.query(`select pg_advisory_xact_lock(hashtextextended('presence_private.server_login', 0))`);
}

export async function storedServerPassword(db: Database, role: string): Promise<string | undefined> {
  const { rows } = await db.query<{ password: string }>('select password from presence_private.server_login where role_name = $1', [
    role,
  ]);
  return rows[0]?.password;
}

export async function storeServerPassword(db: Database, role: string, password: string): Promise<void> {
  await db.query('insert into presence_private.server_login (role_name, password) values ($1, $2)', [role, password]);
}

/** undefined: no such role; false: it has more rights than a member of the app role needs. */
export async function serverLoginIsPlain(db: Database, role: string): Promise<boolean | undefined> {
  const { rows } = await db.query<{ ok: boolean }>(
    `select not (rolsuper or rolcreatedb or rolcreaterole or rolreplication or rolbypassrls) and rolinherit as ok
       from pg_roles where rolname = $1`,
    [role],
  );
  return rows[0]?.ok;
}

/** `verifier` is a quoted SQL literal (client.escapeLiteral of a SCRAM verifier). */
export async function createServerLogin(db: Database, role: string, appRole: string, verifier: string): Promise<void> {
  await db.query(
    `create role ${role} login nosuperuser nocreatedb nocreaterole inherit noreplication nobypassrls
       password ${verifier} in role ${appRole}`,
  );
  await db.query(
    `comment on role ${role} is 'The request path of agent-presence: a member of ${appRole} only; ` +
      `its password is in presence_private.server_login.'`,
  );
}

/** Brings an existing role back to the stored password and membership. */
export async function resetServerLogin(db: Database, role: string, appRole: string, verifier: string): Promise<void> {
  await db.query(`alter role ${role} login password ${verifier}`);
  await db.query(`grant ${appRole} to ${role}`);
}

/** Runs `alter role … set` statements (roleTimeoutSettings in db/app-login.ts). */
export async function applyRoleSettings(db: Database, statements: string[]): Promise<void> {
  for (const statement of statements) await db.query(statement);
}
