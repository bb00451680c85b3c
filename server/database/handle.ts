// The one way the server's SQL modules (server/presence/sql, server/accounts/sql, db/sql) reach the database: a pool
// or a single connection, and, on the request path, the availability tracker every outcome is reported to (one log
// line per outage). The owner's tools and the tests' fixtures pass a connection without a tracker.
import type pg from 'pg';
import type { DatabaseAvailability } from './availability.ts';

export class Database {
  constructor(
    readonly connection: pg.Pool | pg.ClientBase,
    /** Told of every query's outcome; absent for the owner's tools. */
    readonly availability?: DatabaseAvailability,
  ) {}

  /** `name` makes it a prepared statement, parsed once per connection (for the calls every request makes). */
  async query<R extends pg.QueryResultRow>(text: string, values: unknown[] = [], name?: string): Promise<pg.QueryResult<R>> {
    try {
      const result = await this.connection.query<R>(name ? { name, text, values } : { text, values });
      this.availability?.succeeded();
      return result;
    } catch (error) {
      this.availability?.failed(error);
      throw error;
    }
  }
}
