// Every PostgreSQL process stopped (SIGSTOP) under load, then continued.
import { round, sleep } from '../../stats.ts';
import { consistency, lostBeats, underLoad } from '../fault.ts';
import { harness } from '../harness.ts';
import { PASSWORD, type Options } from '../options.ts';

export async function frozenScenario(o: Options) {
  const h = await harness(o);
  try {
    const freezeS = 20;
    const run = await underLoad(h, async () => {
      const pids = h.db.pids();
      for (const pid of pids) process.kill(pid, 'SIGSTOP');
      const frozenAt = Date.now();
      const health: Array<{ status: number; ms: number }> = [];
      const other: Array<{ route: string; status: number; ms: number }> = [];
      const someone = h.agents[0]!;
      const probes = [
        ['GET /api/agents', () => fetch(`${h.base()}/api/agents`, { headers: { cookie: someone.cookie } })],
        ['GET /api/auth/me', () => fetch(`${h.base()}/api/auth/me`, { headers: { cookie: someone.cookie } })],
        ['POST /api/auth/login', () => fetch(`${h.base()}/api/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email: someone.email, password: PASSWORD }) })],
      ] as const;
      const timed = async (request: () => Promise<Response>) => {
        const started = performance.now();
        const res = await request();
        await res.arrayBuffer();
        return { status: res.status, ms: Math.round(performance.now() - started) };
      };
      while (Date.now() - frozenAt < freezeS * 1000) {
        health.push(await timed(() => fetch(`${h.base()}/healthz`)));
        await sleep(1_000);
      }
      other.push(...(await Promise.all(probes.map(async ([route, request]) => ({ route, ...(await timed(request)) })))));
      for (const pid of pids) process.kill(pid, 'SIGCONT');
      const thawed = Date.now();
      let healthyAfter: number | null = null;
      for (let i = 0; i < 100 && healthyAfter === null; i++) {
        const res = await fetch(`${h.base()}/healthz`);
        await res.arrayBuffer();
        if (res.status === 200) healthyAfter = Date.now();
        else await sleep(100);
      }
      return {
        ended: thawed,
        frozen_s: freezeS,
        healthz_while_frozen: { answers: health.length, statuses: [...new Set(health.map((x) => x.status))], max_ms: Math.max(...health.map((x) => x.ms)) },
        other_routes_near_the_end_of_the_freeze: other,
        healthy_again_after_thaw_s: healthyAfter ? round((healthyAfter - thawed) / 1000, 2) : null,
      };
    });
    return {
      scenario: `every PostgreSQL process stopped (SIGSTOP) for ${freezeS} s under load, then continued (SIGCONT)`,
      ...run.detail,
      beats: run.beats,
      acknowledged_beats_lost: await lostBeats(h, run.load),
      database: await consistency(h),
      server_log_lines_warn_or_above: run.warnings,
    };
  } finally {
    await h.close();
  }
}
