// The load generator, in a process of its own (bench/http.ts pins it to the other core): autocannon against
// POST /api/auth/heartbeat, every connection a different signed-in agent with its own browser session id.
// Prints one JSON line: requests per second, latency percentiles (ms), errors and non-2xx answers.
//   node --import tsx bench/load.ts '{"url":…,"cookies":[…],"connections":50,"durationS":10}'
import autocannon from 'autocannon';

export interface LoadOptions {
  url: string;
  cookies: string[];
  connections: number;
  durationS: number;
}

export interface LoadResult {
  rps: number;
  p50_ms: number;
  p99_ms: number;
  requests: number;
  errors: number;
  non2xx: number;
}

const options = JSON.parse(process.argv[2]!) as LoadOptions;
let next = 0;
const result = await autocannon({
  url: `${options.url}/api/auth/heartbeat`,
  method: 'POST',
  connections: options.connections,
  duration: options.durationS,
  headers: { 'content-type': 'application/json' },
  setupClient(client) {
    const i = next++;
    client.setHeadersAndBody(
      { 'content-type': 'application/json', cookie: options.cookies[i % options.cookies.length]! },
      JSON.stringify({ sessionId: `bench-tab-${i}` }),
    );
  },
});
const out: LoadResult = {
  rps: Math.round(result.requests.total / options.durationS),
  p50_ms: result.latency.p50,
  p99_ms: result.latency.p99,
  requests: result.requests.total,
  errors: result.errors + result.timeouts,
  non2xx: result.non2xx,
};
console.log(JSON.stringify(out));
