// The one LISTEN connection of a server process: status transitions arrive on channel presence_status (sent by
// presence_private.apply_transitions on commit), ended sign-in sessions on presence_session_ended (presence.logout,
// presence.revoke_sessions); both are fanned out to every subscriber. If the connection drops it is
// re-established; subscribers then hear `resync`, because notifications sent meanwhile are lost.
import { EventEmitter } from 'node:events';
import pg from 'pg';
import type { Logger } from 'pino';
import { APP_ROLE } from './db/pool.ts';

export const STATUS_CHANNEL = 'presence_status';
export const SESSION_ENDED_CHANNEL = 'presence_session_ended';

export interface StatusChange {
  tenant: string;
  agent: string;
  from: string;
  to: string;
  reason: string;
  at: string;
}

interface ListenerEvents {
  status: [StatusChange];
  /** The id of a sign-in session that was signed out or revoked. */
  sessionEnded: [string];
  resync: [];
}

export class StatusListener extends EventEmitter<ListenerEvents> {
  private client: pg.Client | null = null;
  private closed = false;
  private retryTimer: NodeJS.Timeout | null = null;
  private retryMs = 250;
  private pid = 0;

  constructor(
    private readonly connectionString: string,
    private readonly logger: Logger,
  ) {
    super();
    this.setMaxListeners(0);
  }

  /** Connects and listens; resolves once the first LISTEN is in place (rejects if that fails). */
  async start(): Promise<void> {
    await this.connect();
  }

  /** For tests and operators: is the listening connection up right now? */
  get connected(): boolean {
    return this.client !== null;
  }

  /** The server process id of the listening connection (for pg_stat_activity), null while reconnecting. */
  get backendPid(): number | null {
    return this.client ? this.pid : null;
  }

  private async connect(): Promise<void> {
    const client = new pg.Client({
      connectionString: this.connectionString,
      application_name: 'presence-listener',
      options: `-c role=${APP_ROLE}`,
    });
    client.on('notification', (message) => {
      if (!message.payload) return;
      if (message.channel === SESSION_ENDED_CHANNEL) {
        this.emit('sessionEnded', message.payload);
        return;
      }
      if (message.channel !== STATUS_CHANNEL) return;
      try {
        const change = JSON.parse(message.payload) as StatusChange;
        this.emit('status', { ...change, at: new Date(change.at).toISOString() });
      } catch (error) {
        this.logger.warn({ err: error, payload: message.payload }, 'unreadable presence_status notification');
      }
    });
    client.on('error', (error) => this.onLost(client, error));
    client.on('end', () => this.onLost(client, new Error('connection ended')));
    await client.connect();
    await client.query(`listen ${STATUS_CHANNEL}`);
    await client.query(`listen ${SESSION_ENDED_CHANNEL}`);
    const { rows } = await client.query<{ pid: number }>('select pg_backend_pid() as pid');
    if (this.closed) {
      await client.end();
      return;
    }
    this.client = client;
    this.pid = rows[0]!.pid;
    this.retryMs = 250;
  }

  private onLost(client: pg.Client | null, error: Error): void {
    if (this.closed || client === null || this.client !== client) return;
    this.client = null;
    this.logger.warn({ err: error }, 'LISTEN connection lost; reconnecting');
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    if (this.closed || this.retryTimer) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      this.connect().then(
        () => {
          this.logger.info('LISTEN connection re-established');
          this.emit('resync');
        },
        (error: unknown) => {
          this.logger.warn({ err: error, retryMs: this.retryMs }, 'LISTEN reconnect failed');
          this.retryMs = Math.min(this.retryMs * 2, 5_000);
          this.scheduleReconnect();
        },
      );
    }, this.retryMs);
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    const client = this.client;
    this.client = null;
    await client?.end().catch(() => {});
  }
}
