// The CLI's connections, as the database owner: DATABASE_URL, or the project's local cluster (started if needed),
// or on a machine without PostgreSQL binaries the embedded PostgreSQL that a running `npm start` serves; and, for
// `cron`, the same server's database where pg_cron lives.
import { openDatabase } from '../../db/database.ts';
import { withClient } from '../../db/client.ts';
import { Database } from '../database/handle.ts';
import { databaseOptions, loadConfig } from '../config.ts';
import { tenantExists } from './sql/tenant-exists.ts';

const APPLICATION = 'presence-cli';

export async function databaseUrl(): Promise<string> {
  return (await openDatabase(databaseOptions(loadConfig(), 'use'))).url;
}

export async function withDatabase<T>(work: (db: Database) => Promise<T>): Promise<T> {
  return withClient(await databaseUrl(), (client) => work(new Database(client)), { applicationName: APPLICATION });
}

/** The same server, another database (where managed PostgreSQL keeps pg_cron). */
function otherDatabaseUrl(url: string, database: string): string {
  const other = new URL(url);
  other.pathname = `/${encodeURIComponent(database)}`;
  return other.toString();
}

export async function withCronDatabase<T>(url: string, database: string, work: (db: Database) => Promise<T>): Promise<T> {
  let connected = false;
  try {
    return await withClient(
      otherDatabaseUrl(url, database),
      (client) => {
        connected = true;
        return work(new Database(client));
      },
      { applicationName: APPLICATION },
    );
  } catch (error) {
    if (connected) throw error;
    throw new Error(`cannot connect to database ${database}, where pg_cron lives: ${error instanceof Error ? error.message : error}`);
  }
}

/**
 * Checks a --tenant value before any command uses it: an id of the tenants' key type (uuid on a standalone install),
 * of a tenant that exists. The error names the value and what is wrong with it.
 */
export async function requireTenant(db: Database, tenant: string): Promise<void> {
  let exists: boolean;
  try {
    exists = await tenantExists(db, tenant);
  } catch (error) {
    // Class 22: the value is not of the key type (invalid input syntax for type uuid: "nope").
    if ((error as { code?: string }).code?.startsWith('22')) {
      throw new Error(`--tenant '${tenant}' is not a tenant id (${(error as Error).message})`);
    }
    throw error;
  }
  if (!exists) throw new Error(`--tenant '${tenant}': no such tenant`);
}
