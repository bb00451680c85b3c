// PostgreSQL restarted (pg_ctl restart -m fast) or crashed and recovered (-m immediate) under load.
import { round, sleep } from '../../stats.ts';
import { consistency, lostBeats, underLoad } from '../fault.ts';
import { harness } from '../harness.ts';
import type { Options } from '../options.ts';

export async function restartScenario(o: Options, mode: 'fast' | 'immediate') {
  const h = await harness(o);
  try {
    const statusBefore = h.streams.reduce((n, s) => n + s.statusEvents, 0);
    const run = await underLoad(h, async () => {
      const started = Date.now();
      await h.db.pgCtl(['-m', mode, 'restart']);
      const ready = Date.now();
      // The LISTEN connection is back when a transition (the churn's sign-outs and sign-ins) reaches the streams.
      let listening: number | null = null;
      for (let i = 0; i < 300 && listening === null; i++) {
        await sleep(100);
        const last = Math.max(...h.streams.map((s) => s.lastStatusAt));
        if (last > ready) listening = last;
      }
      return {
        ended: ready,
        restart_took_s: round((ready - started) / 1000, 2),
        streams_hear_transitions_after_s: listening ? round((listening - ready) / 1000, 2) : null,
      };
    });
    return {
      scenario: mode === 'fast' ? 'restart of PostgreSQL under load (pg_ctl restart -m fast)' : 'crash of PostgreSQL under load (pg_ctl restart -m immediate: no checkpoint, crash recovery)',
      ...run.detail,
      beats: run.beats,
      acknowledged_beats_lost: await lostBeats(h, run.load),
      database: await consistency(h),
      stream_status_events: h.streams.reduce((n, s) => n + s.statusEvents, 0) - statusBefore,
      stream_reconnects: h.streams.reduce((n, s) => n + s.reconnects, 0),
      server_log_lines_warn_or_above: run.warnings,
    };
  } finally {
    await h.close();
  }
}
