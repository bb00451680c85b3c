// One connection for one piece of work: open a client, run, close it whatever happens. For the owner's tools (the
// migrations, the schema dump, the app login, the seed, the tests' fixtures), which each need a connection briefly
// and no pool.
import pg from 'pg';

/** Runs `work` on a new connection to `url` and closes it again; `applicationName` shows in pg_stat_activity. */
export async function withClient<T>(
  url: string,
  work: (client: pg.Client) => Promise<T>,
  { applicationName }: { applicationName?: string } = {},
): Promise<T> {
  const client = new pg.Client({ connectionString: url, ...(applicationName ? { application_name: applicationName } : {}) });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

/** Runs `work` in one transaction on `client`: committed if it returns, rolled back if it throws. */
export async function inTransaction<T>(client: pg.ClientBase, work: () => Promise<T>): Promise<T> {
  await client.query('begin');
  try {
    const result = await work();
    await client.query('commit');
    return result;
  } catch (error) {
    await client.query('rollback').catch(() => {});
    throw error;
  }
}
