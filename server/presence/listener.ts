// The one LISTEN connection of a router (one per server process), held from the platform's pool. A notification is
// a doorbell, never a fact: PostgreSQL has no privilege on NOTIFY, so any role that can connect can send on these
// channels with any payload. Payloads are never read; a ring only tells the stream hub to read the tables
// (presence.status_changes_after, presence.sign_ins_ended), which only presence's functions write. Channel
// presence_status rings on every committed transition (presence_private.apply_transitions), presence_sign_in_ended
// on every sign-out (presence.end_sign_in), presence_chats on every change of presence's chats (a statement trigger on
// presence_private.chats). If the connection drops it is re-established; subscribers hear `listening` after every
// (re)connect, and read from where they left off, so nothing sent meanwhile is lost.
import { EventEmitter } from 'node:events';
import type pg from 'pg';
import type { Logger } from 'pino';
import { Database } from '../database/handle.ts';
import { listenOn, unlistenAll } from './sql/listen.ts';

export const STATUS_CHANNEL = 'presence_status';
export const SIGN_IN_ENDED_CHANNEL = 'presence_sign_in_ended';
export const CHATS_CHANNEL = 'presence_chats';

interface ListenerEvents {
  /** presence_status rang: some transition may have committed. */
  status: [];
  /** presence_sign_in_ended rang: some sign-in may have ended. */
  signInEnded: [];
  /** presence_chats rang: some chat may have been opened, assigned, closed or released. */
  chats: [];
  /** The connection is listening (first time or again): anything may have happened while it was not. */
  listening: [];
}

export class ChangeListener extends EventEmitter<ListenerEvents> {
  private client: pg.PoolClient | null = null;
  private closed = false;
  private retryTimer: NodeJS.Timeout | null = null;
  private retryMs = 250;
  private pid = 0;
  private readonly started: Promise<void>;

  constructor(
    private readonly pool: pg.Pool,
    private readonly logger: Logger,
  ) {
    super();
    this.setMaxListeners(0);
    this.started = this.connect().then(
      () => undefined,
      (error: unknown) => {
        this.logger.warn({ reason: String(error) }, 'LISTEN connection failed; retrying');
        this.scheduleReconnect();
      },
    );
  }

  /** Resolves once the first attempt to listen is over (whether or not it succeeded). */
  ready(): Promise<void> {
    return this.started;
  }

  get connected(): boolean {
    return this.client !== null;
  }

  /** The server process id of the listening connection (for pg_stat_activity), null while reconnecting. */
  get backendPid(): number | null {
    return this.client ? this.pid : null;
  }

  private async connect(): Promise<void> {
    const client = await this.pool.connect();
    const onNotification = (message: pg.Notification) => this.onNotification(message);
    const onLost = (error: Error) => this.onLost(client, error);
    client.on('notification', onNotification);
    client.on('error', onLost);
    client.on('end', () => onLost(new Error('connection ended')));
    try {
      this.pid = await listenOn(new Database(client), [STATUS_CHANNEL, SIGN_IN_ENDED_CHANNEL, CHATS_CHANNEL]);
    } catch (error) {
      client.release(error as Error);
      throw error;
    }
    if (this.closed) {
      client.release(true);
      return;
    }
    this.client = client;
    this.retryMs = 250;
    this.emit('listening');
  }

  /** The payload is never read: whoever sent it, all a ring does is make the hub read the tables (coalesced). */
  private onNotification(message: pg.Notification): void {
    if (message.channel === STATUS_CHANNEL) this.emit('status');
    else if (message.channel === SIGN_IN_ENDED_CHANNEL) this.emit('signInEnded');
    else if (message.channel === CHATS_CHANNEL) this.emit('chats');
  }

  private onLost(client: pg.PoolClient, error: Error): void {
    if (this.closed || this.client !== client) return;
    this.client = null;
    client.release(error);
    this.logger.warn({ reason: error.message }, 'LISTEN connection lost; reconnecting');
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    if (this.closed || this.retryTimer) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      this.connect().then(
        () => this.logger.info('LISTEN connection re-established'),
        () => {
          // Logged once when lost; retried quietly with backoff until the database is back.
          this.retryMs = Math.min(this.retryMs * 2, 5_000);
          this.scheduleReconnect();
        },
      );
    }, this.retryMs);
    this.retryTimer.unref();
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    const client = this.client;
    this.client = null;
    if (client) {
      await unlistenAll(new Database(client)).catch(() => {});
      client.release(true);
    }
  }
}
