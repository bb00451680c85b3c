// The supervisors' dashboards: one live stream (GET /api/agents/stream, Server-Sent Events) per supervisor, held
// open by its sign-in, in a process of its own. Counts what arrives (snapshots, status events, bytes), so that
// a step can show that transitions reached the dashboards while it ran.
//   node --import tsx bench/streams.ts <url> <secret>
import http from 'node:http';
import { ready, serveRequests } from './child.ts';
import { supervisorToken } from './seed.ts';
import { sleep } from './stats.ts';

const [base, secret] = process.argv.slice(2) as [string, string];
const target = new URL(base);

const counts = { open: 0, snapshots: 0, status: 0, bytes: 0, ended: 0, failed: 0 };
const requests: http.ClientRequest[] = [];
let opened = 0;

/** Opens the stream of supervisor n; resolves once its first snapshot arrived. */
function openStream(supervisor: number): Promise<void> {
  return new Promise((resolve) => {
    let settled = false;
    const settle = () => {
      if (!settled) {
        settled = true;
        resolve();
      }
    };
    const req = http.get(
      {
        host: target.hostname,
        port: target.port,
        path: '/api/agents/stream',
        agent: false,
        headers: { accept: 'text/event-stream', cookie: `presence_session=${supervisorToken(secret, supervisor)}` },
      },
      (res) => {
        if (res.statusCode !== 200) {
          counts.failed += 1;
          res.resume();
          settle();
          return;
        }
        counts.open += 1;
        let line = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          counts.bytes += chunk.length;
          let start = 0;
          for (let end = chunk.indexOf('\n'); end >= 0; end = chunk.indexOf('\n', start)) {
            // Only event lines matter; a data line (a whole snapshot) is never kept.
            const text = line + chunk.slice(start, Math.min(end, start + 16));
            if (text === 'event: snapshot') counts.snapshots += 1;
            else if (text === 'event: status') counts.status += 1;
            line = '';
            start = end + 1;
          }
          line = (line + chunk.slice(start, start + 16)).slice(0, 16);
          settle();
        });
        res.on('end', () => {
          counts.open -= 1;
          counts.ended += 1;
        });
      },
    );
    req.on('error', () => {
      counts.failed += 1;
      settle();
    });
    requests.push(req);
  });
}

serveRequests(async (m) => {
  if (m.type === 'open') {
    // Paced, as dashboards open over time: each first snapshot is a query.
    const supervisors = Number(m.supervisors);
    const pending: Array<Promise<void>> = [];
    for (; opened < supervisors; opened++) {
      pending.push(openStream(opened + 1));
      if (opened % 50 === 49) await sleep(100);
    }
    await Promise.all(pending);
    return { ...counts };
  }
  if (m.type === 'count') return { ...counts };
  if (m.type === 'stop') {
    for (const req of requests) req.destroy();
    setImmediate(() => process.exit(0));
  }
  return {};
});
ready();
