// presence.heartbeat_for_session: authentication and the beat in one round trip. Concurrent requests share one
// call: while a call is in flight, new beats queue up and go together in the next call (unnest arrays), so a
// burst of N beats costs far fewer than N round trips and never more than one per request. Why: on this 2-core
// machine Node spends ~150 us per request and Postgres ~100 us per single-row call (shared/FIELD-NOTES.md); a
// separate authentication query would add a second round trip to every beat, and one call per beat leaves
// Postgres doing per-statement work that a batch does once.
import type pg from 'pg';

export type Activity = 'active' | 'idle';

export type BeatResult =
  | { outcome: 'beat'; status: string; lastSeen: Date; heartbeatIntervalS: number }
  | { outcome: 'not_agent' }
  | { outcome: 'unauthenticated' };

interface Pending {
  tokenHash: Buffer;
  sessionId: string;
  activity: Activity;
  resolve: (result: BeatResult) => void;
  reject: (error: unknown) => void;
}

interface Row {
  ord: number;
  outcome: 'beat' | 'not_agent' | 'unauthenticated';
  status: string | null;
  last_seen: Date | null;
  heartbeat_interval_s: number | null;
}

const MAX_BATCH = 500;

export class HeartbeatBatcher {
  private queue: Pending[] = [];
  private inFlight = false;

  constructor(private readonly db: pg.Pool) {}

  beat(tokenHash: Buffer, sessionId: string, activity: Activity): Promise<BeatResult> {
    return new Promise((resolve, reject) => {
      this.queue.push({ tokenHash, sessionId, activity, resolve, reject });
      if (!this.inFlight) void this.flush();
    });
  }

  private async flush(): Promise<void> {
    this.inFlight = true;
    while (this.queue.length > 0) {
      const batch = this.queue.splice(0, MAX_BATCH);
      try {
        const rows = await this.send(batch);
        batch.forEach((p, i) => p.resolve(toResult(rows[i]!)));
      } catch (error) {
        // One bad request must not fail its neighbours: on error, each one goes alone and gets its own answer.
        if (batch.length === 1) batch[0]!.reject(error);
        else await Promise.all(batch.map((p) => this.send([p]).then((r) => p.resolve(toResult(r[0]!)), p.reject)));
      }
    }
    this.inFlight = false;
  }

  private async send(batch: Pending[]): Promise<Row[]> {
    const { rows } = await this.db.query<Row>(
      'select * from presence.heartbeat_for_session($1::bytea[], $2::text[], $3::text[])',
      [batch.map((p) => p.tokenHash), batch.map((p) => p.sessionId), batch.map((p) => p.activity)],
    );
    return rows;
  }
}

function toResult(row: Row): BeatResult {
  if (row.outcome === 'beat') {
    return { outcome: 'beat', status: row.status!, lastSeen: row.last_seen!, heartbeatIntervalS: row.heartbeat_interval_s! };
  }
  return { outcome: row.outcome };
}
