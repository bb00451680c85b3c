// The doorbells' connection: LISTEN on presence's channels (and which backend listens, for pg_stat_activity), and
// UNLISTEN before the connection goes back. Channel names are the project's constants, never input.
import type { Database } from '../../database/handle.ts';

/** Listens on `channels`; returns the listening backend's process id. */
export async function listenOn(db: Database, channels: readonly string[]): Promise<number> {
  for (const channel of channels) await db.query(`listen ${channel}`);
  const { rows } = await db.query<{ pid: number }>('select pg_backend_pid() as pid');
  return rows[0]!.pid;
}

export async function unlistenAll(db: Database): Promise<void> {
  await db.query('unlisten *');
}
