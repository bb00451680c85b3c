// The router's one way to the database: the platform's pool, with every outcome reported to the availability
// tracker (one log line per outage).
import type pg from 'pg';
import type { DatabaseAvailability } from './availability.ts';

export class PresenceDb {
  constructor(
    readonly pool: pg.Pool,
    readonly availability: DatabaseAvailability,
  ) {}

  /** `name` makes it a prepared statement, parsed once per connection (for the calls every request makes). */
  async query<R extends pg.QueryResultRow>(text: string, values: unknown[], name?: string): Promise<pg.QueryResult<R>> {
    try {
      const result = await this.pool.query<R>(name ? { name, text, values } : { text, values });
      this.availability.succeeded();
      return result;
    } catch (error) {
      this.availability.failed(error);
      throw error;
    }
  }
}
