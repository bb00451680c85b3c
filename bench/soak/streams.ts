// A supervisor's dashboard stream as the soak holds it.
import http from 'node:http';
import { createParser } from 'eventsource-parser';

/** A dashboard's live stream, reconnecting 2 s after it ends as EventSource does. */
export class StreamClient {
  statusEvents = 0;
  snapshots = 0;
  reconnects = 0;
  lastStatusAt = 0;
  open = false;
  private req: http.ClientRequest | null = null;
  private stopped = false;

  constructor(
    private readonly base: () => string,
    private readonly cookie: string,
  ) {}

  start(): void {
    if (this.stopped) return;
    this.req = http.get(`${this.base()}/api/agents/stream`, { headers: { cookie: this.cookie, accept: 'text/event-stream' } }, (res) => {
      if (res.statusCode !== 200) {
        res.resume();
        res.on('end', () => this.retry());
        return;
      }
      this.open = true;
      const parser = createParser({
        onEvent: (message) => {
          if (message.event === 'status') {
            this.statusEvents += 1;
            this.lastStatusAt = Date.now();
          } else if (message.event === 'snapshot') this.snapshots += 1;
        },
      });
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => parser.feed(chunk));
      res.on('close', () => {
        this.open = false;
        this.retry();
      });
    });
    this.req.on('error', () => {
      this.open = false;
      this.retry();
    });
  }

  private retry(): void {
    if (this.stopped) return;
    this.reconnects += 1;
    setTimeout(() => this.start(), 2_000).unref();
  }

  stop(): void {
    this.stopped = true;
    this.req?.destroy();
  }
}
