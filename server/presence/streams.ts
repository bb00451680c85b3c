// Live status for GET /stream (Server-Sent Events). Transitions come from the router's one LISTEN connection and fan
// out to the streams of their tenant. Each tenant with open streams also gets its snapshot re-sent every heartbeat
// interval (1-15 s, each tenant at its own phase), from ONE query shared by all of that tenant's streams, so derived offline and last-seen stay
// current without a transition; and every stream gets a keep-alive comment (every 15 s by default).
//
// A stream that ends leaves the hub before anything else happens to it, and nothing is written to a response that
// has ended or failed: one stream's end (a sign-out with the dashboard open, a client gone) never reaches the
// process.
import type { Response } from 'express';
import type { Logger } from 'pino';
import type { Agent, StatusChange } from './api-types.ts';
import type { PresenceDb } from './database.ts';
import type { Caller } from './identity.ts';
import type { ChangeListener, SignInEnded, StatusNotice } from './listener.ts';
import type { PresenceMetrics } from './metrics.ts';
import { agentsOfTenant } from './sql/agents.ts';

/** A snapshot this young is good enough for a stream that just opened. */
const SNAPSHOT_REUSE_MS = 1_000;

interface Stream {
  res: Response;
  /** The sign-in it was opened under: ending that sign-in ends the stream. */
  signIn: string | null;
  /** Events that arrived before the stream's first snapshot was written; sent right after it. */
  backlog: string[] | null;
  expiry: NodeJS.Timeout | null;
  ended: boolean;
}

interface TenantStreams {
  streams: Set<Stream>;
  timer: NodeJS.Timeout | null;
  periodMs: number;
  snapshot: { agents: Agent[]; at: number } | null;
}

export class StreamHub {
  private readonly tenants = new Map<string, TenantStreams>();
  private readonly keepAlive: NodeJS.Timeout;
  private readonly onStatus = (notice: StatusNotice) => this.publish(notice);
  private readonly onSignInEnded = ({ tenant, signIn }: SignInEnded) => {
    for (const stream of [...(this.tenants.get(tenant)?.streams ?? [])]) {
      if (stream.signIn === signIn) this.end(tenant, stream);
    }
  };
  private readonly onResync = () => {
    for (const tenantId of this.tenants.keys()) void this.refresh(tenantId);
  };

  constructor(
    private readonly db: PresenceDb,
    private readonly listener: ChangeListener,
    private readonly metrics: PresenceMetrics,
    private readonly logger: Logger,
    keepAliveMs: number,
  ) {
    listener.on('status', this.onStatus);
    listener.on('resync', this.onResync);
    listener.on('signInEnded', this.onSignInEnded);
    this.keepAlive = setInterval(() => this.writeAll(': keep-alive\n\n'), keepAliveMs);
    this.keepAlive.unref();
  }

  /**
   * Opens a stream for a caller; it lives until the client goes away, its sign-in ends or expires, or the hub
   * closes. The first snapshot is read before anything is written, so a database that does not answer makes this
   * throw (a 503), not an empty stream.
   */
  async open(res: Response, caller: Caller): Promise<void> {
    const { tenantId } = caller;
    const stream: Stream = { res, signIn: caller.signIn, backlog: [], expiry: null, ended: false };
    const tenant = this.tenantFor(tenantId);
    tenant.streams.add(stream);
    this.metrics.openStreams.inc();
    res.on('close', () => this.remove(tenantId, stream));
    res.on('error', () => this.remove(tenantId, stream));

    let agents: Agent[];
    try {
      agents =
        tenant.snapshot && Date.now() - tenant.snapshot.at < SNAPSHOT_REUSE_MS
          ? tenant.snapshot.agents
          : await this.loadSnapshot(tenantId);
    } catch (error) {
      this.remove(tenantId, stream);
      throw error;
    }
    if (stream.ended || res.writableEnded || res.destroyed) return;

    res.status(200).set({
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-cache, no-transform',
      Connection: 'keep-alive',
      'X-Accel-Buffering': 'no',
    });
    res.flushHeaders();
    res.write('retry: 2000\n\n');
    res.write(frame('snapshot', { agents }));
    for (const text of stream.backlog ?? []) res.write(text);
    stream.backlog = null;
    if (caller.expiresInS !== null) {
      // The stream ends with its sign-in; the browser's reconnect then gets a 401.
      stream.expiry = setTimeout(() => this.end(tenantId, stream), Math.min(Math.max(caller.expiresInS * 1000, 0), 2 ** 31 - 1));
      stream.expiry.unref();
    }
  }

  get openStreams(): number {
    let n = 0;
    for (const tenant of this.tenants.values()) n += tenant.streams.size;
    return n;
  }

  private tenantFor(tenantId: string): TenantStreams {
    let tenant = this.tenants.get(tenantId);
    if (!tenant) {
      tenant = { streams: new Set(), timer: null, periodMs: 0, snapshot: null };
      this.tenants.set(tenantId, tenant);
      this.schedule(tenantId, tenant, 15);
    }
    return tenant;
  }

  /**
   * Re-sends the tenant's snapshot every heartbeat interval, 1 to 15 s, from a random point of the first period on.
   * Without that offset, tenants whose streams opened together (every dashboard reconnecting after a deploy, the
   * benchmark's supervisors) refresh together: at 3,583 tenants, 3,583 snapshot queries in one burst every 15 s
   * instead of ~240 a second, and the burst is what the beats' p99 sees.
   */
  private schedule(tenantId: string, tenant: TenantStreams, heartbeatIntervalS: number): void {
    const periodMs = Math.min(Math.max(heartbeatIntervalS, 1), 15) * 1000;
    if (tenant.timer && tenant.periodMs === periodMs) return;
    if (tenant.timer) clearTimeout(tenant.timer);
    tenant.periodMs = periodMs;
    const tick = () => {
      tenant.timer = setTimeout(tick, periodMs).unref();
      void this.refresh(tenantId);
    };
    tenant.timer = setTimeout(tick, Math.random() * periodMs).unref();
  }

  /** Takes a stream out of the hub; idempotent. */
  private remove(tenantId: string, stream: Stream): void {
    if (stream.ended) return;
    stream.ended = true;
    if (stream.expiry) clearTimeout(stream.expiry);
    const tenant = this.tenants.get(tenantId);
    if (!tenant?.streams.delete(stream)) return;
    this.metrics.openStreams.dec();
    if (tenant.streams.size === 0) {
      if (tenant.timer) clearTimeout(tenant.timer);
      this.tenants.delete(tenantId);
    }
  }

  /** Out of the hub first, then the response ends: nothing can write to it afterwards. */
  private end(tenantId: string, stream: Stream): void {
    this.remove(tenantId, stream);
    if (!stream.res.writableEnded) stream.res.end();
  }

  private async loadSnapshot(tenantId: string): Promise<Agent[]> {
    const { agents, heartbeatIntervalS } = await agentsOfTenant(this.db, tenantId);
    const tenant = this.tenants.get(tenantId);
    if (tenant) {
      tenant.snapshot = { agents, at: Date.now() };
      if (heartbeatIntervalS !== null) this.schedule(tenantId, tenant, heartbeatIntervalS);
    }
    return agents;
  }

  /** One query for the tenant, written to all of its streams. */
  private async refresh(tenantId: string): Promise<void> {
    try {
      const agents = await this.loadSnapshot(tenantId);
      this.writeTenant(tenantId, frame('snapshot', { agents }));
    } catch (error) {
      // An outage is logged once by the availability tracker; anything else here is worth a line.
      if (this.db.availability.available) this.logger.warn({ err: error, tenantId }, 'snapshot refresh failed');
    }
  }

  private publish(notice: StatusNotice): void {
    this.metrics.statusEvents.inc({ reason: notice.reason });
    if (notice.reason === 'timeout') this.metrics.agentsSwept.inc();
    const tenant = this.tenants.get(notice.tenant);
    if (!tenant) return;
    tenant.snapshot = null;
    const change: StatusChange = {
      agentId: notice.agent,
      from: notice.from,
      to: notice.to,
      chosenStatus: notice.chosen,
      reason: notice.reason,
      at: notice.at,
    };
    this.writeTenant(notice.tenant, frame('status', change));
  }

  private writeTenant(tenantId: string, text: string): void {
    for (const stream of [...(this.tenants.get(tenantId)?.streams ?? [])]) {
      if (stream.ended || stream.res.writableEnded || stream.res.destroyed) this.remove(tenantId, stream);
      else if (stream.backlog) stream.backlog.push(text);
      else stream.res.write(text);
    }
  }

  private writeAll(text: string): void {
    for (const tenantId of [...this.tenants.keys()]) this.writeTenant(tenantId, text);
  }

  /** Ends every stream (clients reconnect elsewhere) and stops the timers. */
  close(): void {
    clearInterval(this.keepAlive);
    this.listener.off('status', this.onStatus);
    this.listener.off('resync', this.onResync);
    this.listener.off('signInEnded', this.onSignInEnded);
    for (const [tenantId, tenant] of [...this.tenants]) {
      for (const stream of [...tenant.streams]) this.end(tenantId, stream);
    }
    this.tenants.clear();
  }
}

function frame(event: string, data: unknown): string {
  return `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}
