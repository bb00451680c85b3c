// Does the database answer? One trivial round trip.
import type pg from 'pg';

export async function databaseAnswers(db: pg.Pool): Promise<boolean> {
  try {
    await db.query('select 1');
    return true;
  } catch {
    return false;
  }
}
