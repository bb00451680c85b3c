// Where a serving process spends its time, stage by stage of the request path, from the CPU profiles that
// `npm run bench -- --profile DIR` has the serving processes write (node --cpu-prof).
//   npx tsx bench/profile.ts DIR [--us-per-request N]
//
// Each sample goes to the stage of the nearest frame on its stack that belongs to one (a socket write that pg makes
// counts for pg, one that res.json makes for Express); what only Node's own code runs (parsing the request, the
// event loop) is "Node HTTP and sockets". V8 samples the running thread on a timer: time the thread spent in a
// system call, including while another process had its core, counts for that call, so shares are of wall time busy,
// not of CPU. Start-up (module loading) and idle time are left out.
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

export const STAGES: Array<[stage: string, match: RegExp]> = [
  ['pg client (protocol, parsing rows, socket writes)', /node_modules\/(pg|pg-protocol|pg-pool|pg-types|postgres-\w+|pg-connection-string|pgpass)\//],
  ['JSON body parsing (express.json)', /node_modules\/(body-parser|raw-body|type-is|content-type|media-typer|mime-types|mime-db|iconv-lite|bytes|http-errors)\//],
  ['Express routing and res.json', /node_modules\/(express|router|parseurl|path-to-regexp|finalhandler|etag|fresh|vary|depd|encodeurl|escape-html|accepts|negotiator|statuses|on-finished|ee-first|merge-descriptors|setprototypeof|qs|range-parser|debug|ms)\//],
  ['cookie parsing', /node_modules\/(cookie|cookie-parser|cookie-signature)\//],
  ['zod (validation)', /node_modules\/zod\//],
  ['metrics (prom-client)', /node_modules\/(prom-client|tdigest|bintrees)\//],
  ['logging (pino, pino-http)', /node_modules\/(pino|pino-http|pino-std-serializers|sonic-boom|fast-redact|thread-stream|on-exit-leak-free|quick-format-unescaped|atomic-sleep|safe-stable-stringify)\//],
  ['live streams (snapshots, fan-out)', /server\/presence\/(streams|listener|sql\/agents)\.ts/],
  ['identify (session cookie, batched lookup)', /server\/accounts\//],
  ['presence router, batcher and HTTP pieces', /server\/(presence|database|http)\//],
  ['the app (server/app.ts, health)', /server\/(app|health|services)\.ts/],
];
const HTTP = 'Node HTTP and sockets (parsing, writing, event loop)';
const GC = 'garbage collection';
const CRYPTO = 'hashing (the cookie token\'s SHA-256)';
const PROGRAM = 'V8 and Node native code V8 cannot attribute';
const STARTUP = /node:internal\/modules|node_modules\/tsx\/|node_modules\/esbuild\//;

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** Busy microseconds per stage in one profile (idle and start-up left out). */
export function stagesOf(profile: Profile): Map<string, number> {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const stageOf = new Map<number, string | null>();
  const pgUrl = STAGES[0]![1];
  const underPg = (id: number): boolean => {
    for (let up = parent.get(id); up !== undefined; up = parent.get(up)) {
      if (pgUrl.test(byId.get(up)!.callFrame.url)) return true;
    }
    return false;
  };
  const classify = (id: number): string | null => {
    if (stageOf.has(id)) return stageOf.get(id)!;
    const node = byId.get(id)!;
    const { url, functionName } = node.callFrame;
    let stage: string | null;
    if (functionName === '(idle)' || STARTUP.test(url)) stage = 'skip';
    else if (functionName === '(garbage collector)') stage = GC;
    else if (functionName === '(program)') stage = PROGRAM;
    else stage = STAGES.find(([, match]) => match.test(url))?.[0] ?? null;
    if (stage === null) {
      // Node's own code and native calls: a hash is crypto whoever asks (the cookie's SHA-256, Express's ETag); the
      // socket work of a database call is pg's; the rest is the HTTP server's.
      if (/node:internal\/crypto/.test(url) || (url === '' && /^(Hash|Hmac|digest|update)$/.test(functionName))) stage = CRYPTO;
      else stage = underPg(id) ? STAGES[0]![0] : HTTP;
    }
    stageOf.set(id, stage);
    return stage;
  };
  const totals = new Map<string, number>();
  profile.samples.forEach((id, i) => {
    const stage = classify(id) ?? HTTP;
    if (stage !== 'skip') totals.set(stage, (totals.get(stage) ?? 0) + (profile.timeDeltas[i] ?? 0));
  });
  return totals;
}

/** Adds up the main-thread profiles of serving processes in a folder (those that ran the presence router). */
export function stagesOfFolder(dir: string): Map<string, number> {
  const totals = new Map<string, number>();
  for (const name of readdirSync(dir).filter((f) => f.endsWith('.cpuprofile'))) {
    const text = readFileSync(join(dir, name), 'utf8');
    if (!text.includes('server/presence/router.ts')) continue;
    for (const [stage, us] of stagesOf(JSON.parse(text) as Profile)) totals.set(stage, (totals.get(stage) ?? 0) + us);
  }
  return totals;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === resolve(process.argv[1])) {
  const { positionals, values } = parseArgs({ allowPositionals: true, options: { 'us-per-request': { type: 'string' } } });
  const totals = stagesOfFolder(positionals[0]!);
  const busy = [...totals.values()].reduce((a, b) => a + b, 0);
  const perRequest = values['us-per-request'] ? Number(values['us-per-request']) : null;
  console.log(`| stage | share of busy time |${perRequest ? ' µs per request |' : ''}`);
  console.log(`|---|---:|${perRequest ? '---:|' : ''}`);
  for (const [stage, us] of [...totals].sort((a, b) => b[1] - a[1])) {
    const share = us / busy;
    console.log(`| ${stage} | ${(share * 100).toFixed(1)} % |${perRequest ? ` ${Math.round(share * perRequest)} |` : ''}`);
  }
}
