// Schemas by name: which exist, and dropping those a refused migration made.
import pg from 'pg';
import type { Database } from '../../server/database/handle.ts';

export async function schemasPresent(db: Database, names: string[]): Promise<Set<string>> {
  const { rows } = await db.query<{ nspname: string }>('select nspname from pg_namespace where nspname = any ($1)', [names]);
  return new Set(rows.map((r) => r.nspname));
}

/** Drops the schemas and everything in them. */
export async function dropSchemas(db: Database, names: string[]): Promise<void> {
  await db.query(`drop schema if exists ${names.map((n) => pg.escapeIdentifier(n)).join(', ')} cascade`);
}
