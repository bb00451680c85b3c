// The router's one way to the database: the platform's pool, with every outcome reported to the availability
// tracker (one log line per outage).
import type pg from 'pg';
import type { DatabaseAvailability } from './availability.ts';

export class PresenceDb {
  constructor(
    readonly pool: pg.Pool,
    readonly availability: DatabaseAvailability,
  ) {}

  async query<R extends pg.QueryResultRow>(text: string, values: unknown[]): Promise<pg.QueryResult<R>> {
    try {
      const result = await this.pool.query<R>(text, values);
      this.availability.succeeded();
      return result;
    } catch (error) {
      this.availability.failed(error);
      throw error;
    }
  }
}
