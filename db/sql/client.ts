// The owner's one-off connection: open a client, run the work, close it, for the steps of npm start and the CLI's
// commands that send a statement or two and are done.
import pg from 'pg';

/** What an operation module needs of a connection: a client of its own, or one of a pool's. */
export type Queryable = Pick<pg.ClientBase, 'query'>;

export async function withClient<T>(
  connectionString: string,
  work: (client: pg.Client) => Promise<T>,
  applicationName?: string,
): Promise<T> {
  const client = new pg.Client({ connectionString, application_name: applicationName });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}
