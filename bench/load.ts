// The load generator: simulated agents' browser tabs against a server, open loop, with autocannon. Runs as a process
// of its own for the whole search of one variant (bench/http.ts sends it one `run` per step), so that every agent's
// tab, chosen status and pending come-back carry from step to step.
//
// Arrivals. Requests come at a fixed overall rate R, spread evenly over C keep-alive connections (100 by default:
// the upstream connections a reverse proxy or load balancer keeps to the server; at most one per request per
// second, which is a browser tab's own connection). autocannon's rate limit is a quota per connection that a
// one-second timer resets, and all those timers start together: at 3,000 req/s that is 3,000 requests in the same
// instant every second (p99 = the time to drain the burst). Each connection's timer is therefore restarted with a
// quota of one request every C/R s, connection i at phase i/R s; its first request waits for it. Thousands of sockets,
// each woken once a second, cost the server more than 100 busy ones (docs/benchmarks.md, "How it measures", has the
// figures).
// Latencies are recorded as measured, from autocannon's response events in the measured window (autocannon's own
// histogram would add one synthetic sample per millisecond of latency, counting a slow answer dozens of times with a
// fixed schedule). A step whose server falls behind shows it as a rate achieved below the rate asked, and fails.
//
// Who calls. Each request is one agent's turn (requests[].setupRequest): agents take turns in a scattered order
// ((k * 1,000,003) mod N), with jitter of a few seconds, so that at rate R each of N = R * interval agents beats about
// once per heartbeat interval. A turn is a beat (POST /api/auth/heartbeat with the agent's own cookie and tab id),
// or, for a share of turns, a status change (PUT /api/agents/me/status, away and back) or a tab that leaves
// (POST /api/auth/leave) and comes back a few seconds later as a new tab: the transitions, with their durable
// commits, notifications to the supervisors' streams and new tab rows, that a real day has.
//   node --import tsx bench/load.ts <url> <secret> <maxAgents>
import autocannon, { type Client } from 'autocannon';
import { ready, serveRequests } from './child.ts';
import { agentToken, tabId } from './seed.ts';
import { quantile, round } from './stats.ts';

export interface Mix {
  /** Share of turns that change the agent's status (away, or back to available). */
  status: number;
  /** Share of turns where the tab leaves; it comes back as a new tab `comebackMs` later. */
  leave: number;
  comebackMs: number;
  /** Turns come this many seconds early or late at most. */
  jitterS: number;
}

export interface StepRequest {
  rate: number;
  agents: number;
  /** Keep-alive connections the requests share, at most one per request per second. */
  connections: number;
  /** Seconds at the rate before the measured window, on the same connections (not counted). */
  warmupS: number;
  durationS: number;
  mix: Mix;
}

export interface LoadResult {
  rate: number;
  agents: number;
  duration_s: number;
  requests: number;
  achieved_rate: number;
  p50_ms: number;
  p90_ms: number;
  p99_ms: number;
  p999_ms: number;
  max_ms: number;
  errors: number;
  timeouts: number;
  non2xx: number;
  /** Requests per kind of turn, and the answers that were not 2xx per kind. */
  kinds: Record<Kind, number>;
  failed: Partial<Record<Kind, Record<string, number>>>;
}

type Kind = 'beat' | 'status' | 'leave' | 'comeback';

const [url, secret, maxAgentsArg] = process.argv.slice(2) as [string, string, string];
const maxAgents = Number(maxAgentsArg);
const STRIDE = 1_000_003; // a prime above any agent count: (k * STRIDE) mod N visits every agent once per N turns

const generation = new Uint16Array(maxAgents + 1);
const away = new Uint8Array(maxAgents + 1);
const comebacks: Array<{ agent: number; due: number }> = [];
let turn = 0;

function runStep({ rate, agents, connections: asked, warmupS, durationS, mix }: StepRequest): Promise<LoadResult> {
  const kinds: Record<Kind, number> = { beat: 0, status: 0, leave: 0, comeback: 0 };
  const failed: LoadResult['failed'] = {};
  // The measured window starts after the warm-up, on connections already open: a browser keeps its connection, and
  // thousands of connections opening at once (each handed to a serving process over IPC) are not a beat's cost.
  let measuring = false;
  const latencies: number[] = [];
  let errors = 0;
  let timeouts = 0;
  let non2xx = 0;
  const jitter = Math.max(1, Math.round(mix.jitterS * rate));
  let clients = 0;
  const connections = Math.max(1, Math.min(asked, rate));
  // Each connection sends one request every periodMs, connection i at phase i/rate s: evenly spread arrivals.
  const periodMs = (1000 * connections) / rate;

  const nextAgent = (): number => {
    turn += 1;
    const k = turn + Math.floor(Math.random() * 2 * jitter);
    return ((k * STRIDE) % agents) + 1;
  };

  return new Promise((resolve, reject) => {
    const instance = autocannon(
      {
        url,
        connections,
        connectionRate: 1,
        duration: warmupS + durationS,
        timeout: 10,
        ignoreCoordinatedOmission: true,
        requests: [
          {
            setupRequest(req, ctx) {
              const context = ctx as Record<string, unknown>;
              const now = Date.now();
              let agent: number;
              let kind: Kind;
              if (comebacks.length > 0 && comebacks[0]!.due <= now) {
                agent = comebacks.shift()!.agent;
                kind = 'comeback';
              } else {
                agent = nextAgent();
                const r = Math.random();
                kind = r < mix.status ? 'status' : r < mix.status + mix.leave ? 'leave' : 'beat';
              }
              kinds[kind] += 1;
              context.kind = kind;
              const n = agent;
              const headers = { 'content-type': 'application/json', cookie: `presence_session=${agentToken(secret, n)}` };
              if (kind === 'status') {
                away[agent] = away[agent] ? 0 : 1;
                return { ...req, method: 'PUT', path: '/api/agents/me/status', headers, body: JSON.stringify({ status: away[agent] ? 'away' : 'available' }) };
              }
              if (kind === 'leave') {
                const body = JSON.stringify({ sessionId: tabId(n, generation[agent]!) });
                generation[agent] = (generation[agent]! + 1) & 0xffff;
                comebacks.push({ agent, due: now + mix.comebackMs });
                return { ...req, method: 'POST', path: '/api/auth/leave', headers, body };
              }
              return { ...req, method: 'POST', path: '/api/auth/heartbeat', headers, body: JSON.stringify({ sessionId: tabId(n, generation[agent]!) }) };
            },
            onResponse(status, _body, ctx) {
              const context = ctx as Record<string, unknown>;
              if (!measuring || (status >= 200 && status < 300)) return;
              const kind = context.kind as Kind;
              const byStatus = (failed[kind] ??= {});
              byStatus[status] = (byStatus[status] ?? 0) + 1;
            },
          },
        ],
        setupClient(client: Client) {
          const c = client as unknown as Paced;
          const phaseMs = (clients++ * 1000) / rate;
          c.reqsMadeThisSecond = 1; // no request on connecting: the first waits for this connection's phase
          setTimeout(() => {
            if (c.destroyed) return;
            clearInterval(c.rateInterval);
            const tick = () => {
              c.reqsMadeThisSecond = 0;
              if (c.paused) c._doRequest(c.cer);
              c.paused = false;
            };
            tick();
            c.rateInterval = setInterval(tick, periodMs);
          }, phaseMs);
        },
      },
      (error) => {
        clearTimeout(window);
        if (error) {
          reject(error);
          return;
        }
        const total = latencies.length;
        const at = (q: number) => round(total ? quantile(latencies, q) : 0);
        resolve({
          rate,
          agents,
          duration_s: durationS,
          requests: total,
          achieved_rate: Math.round(total / durationS),
          p50_ms: at(0.5),
          p90_ms: at(0.9),
          p99_ms: at(0.99),
          p999_ms: at(0.999),
          max_ms: round(latencies.reduce((a, b) => Math.max(a, b), 0)),
          errors,
          timeouts,
          non2xx,
          kinds,
          failed,
        });
      },
    );
    const window = setTimeout(() => {
      measuring = true;
      for (const k of Object.keys(kinds) as Kind[]) kinds[k] = 0;
    }, warmupS * 1000);
    instance.on('response', (_client, statusCode: number, _bytes: number, responseTime: number) => {
      if (!measuring) return;
      latencies.push(responseTime);
      if (statusCode < 200 || statusCode >= 300) non2xx += 1;
    });
    instance.on('reqError', (error: Error) => {
      if (!measuring) return;
      if (/timed out/.test(error.message)) timeouts += 1;
      else errors += 1;
    });
    instance.on('error', reject);
  });
}

/** The autocannon client internals the pacing above restarts (autocannon 8, lib/httpClient.js). */
interface Paced {
  reqsMadeThisSecond: number;
  rateInterval: NodeJS.Timeout;
  paused: boolean;
  destroyed: boolean;
  cer: unknown;
  _doRequest(cer: unknown): void;
}

serveRequests(async (m) => {
  if (m.type === 'run') return { result: await runStep(m as unknown as StepRequest) };
  if (m.type === 'stop') setImmediate(() => process.exit(0));
  return {};
});
ready();
