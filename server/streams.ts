// Live status for GET /api/agents/stream (Server-Sent Events). Transitions come from the process's one LISTEN
// connection and fan out to the streams of their tenant. Each tenant with open streams also gets its snapshot
// re-sent every heartbeat interval (1-15 s), from ONE query shared by all of that tenant's streams, so derived
// offline and last-seen stay current without a transition; and every stream gets a keep-alive comment (every 15 s
// by default).
import type { Response } from 'express';
import type pg from 'pg';
import type { Logger } from 'pino';
import { agentsOfTenant, type Agent } from './db/agents.ts';
import type { StatusChange, StatusListener } from './listener.ts';
import type { Metrics } from './metrics.ts';

/** A snapshot this young is good enough for a stream that just opened. */
const SNAPSHOT_REUSE_MS = 1_000;

interface Stream {
  res: Response;
  /** The sign-in session it was opened with: signing out or revoking it ends the stream. */
  authSessionId: string;
  /** Events that arrived before the stream's first snapshot was written; sent right after it. */
  backlog: string[] | null;
}

interface TenantStreams {
  streams: Set<Stream>;
  timer: NodeJS.Timeout;
  periodMs: number;
  snapshot: { agents: Agent[]; at: number } | null;
}

export class StreamHub {
  private readonly tenants = new Map<string, TenantStreams>();
  private readonly keepAlive: NodeJS.Timeout;
  private readonly onStatus = (change: StatusChange) => this.publish(change);
  private readonly onSessionEnded = (authSessionId: string) => {
    for (const tenant of this.tenants.values()) {
      for (const stream of tenant.streams) if (stream.authSessionId === authSessionId) stream.res.end();
    }
  };
  private readonly onResync = () => {
    for (const tenantId of this.tenants.keys()) void this.refresh(tenantId);
  };

  constructor(
    private readonly db: pg.Pool,
    private readonly listener: StatusListener,
    private readonly metrics: Metrics,
    private readonly logger: Logger,
    keepAliveMs: number,
  ) {
    listener.on('status', this.onStatus);
    listener.on('resync', this.onResync);
    listener.on('sessionEnded', this.onSessionEnded);
    this.keepAlive = setInterval(() => this.writeAll(': keep-alive\n\n'), keepAliveMs);
    this.keepAlive.unref();
  }

  /**
   * Opens a stream for a user of `tenantId`; it lives until the client goes away, its sign-in session is signed
   * out, revoked or expires, or the hub closes.
   */
  async open(
    res: Response,
    user: { tenantId: string; authSessionId: string; heartbeatIntervalS: number; expiresInS: number },
  ): Promise<void> {
    const { tenantId, heartbeatIntervalS } = user;
    res.status(200).set({
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-cache, no-transform',
      Connection: 'keep-alive',
      'X-Accel-Buffering': 'no',
    });
    res.flushHeaders();
    res.write('retry: 2000\n\n');

    const stream: Stream = { res, authSessionId: user.authSessionId, backlog: [] };
    const tenant = this.tenantFor(tenantId, heartbeatIntervalS);
    tenant.streams.add(stream);
    this.metrics.openStreams.inc();
    // The stream ends with its sign-in session; the browser's reconnect then gets a 401.
    const expiry = setTimeout(() => res.end(), Math.min(Math.max(user.expiresInS * 1000, 0), 2 ** 31 - 1));
    expiry.unref();
    res.on('close', () => {
      clearTimeout(expiry);
      this.remove(tenantId, stream);
    });

    try {
      const agents =
        tenant.snapshot && Date.now() - tenant.snapshot.at < SNAPSHOT_REUSE_MS
          ? tenant.snapshot.agents
          : await this.loadSnapshot(tenantId);
      if (res.writableEnded) return;
      res.write(frame('snapshot', { agents }));
      for (const line of stream.backlog ?? []) res.write(line);
      stream.backlog = null;
    } catch (error) {
      this.logger.error({ err: error, tenantId }, 'could not load the first snapshot of a stream');
      res.end();
    }
  }

  private tenantFor(tenantId: string, heartbeatIntervalS: number): TenantStreams {
    const periodMs = Math.min(Math.max(heartbeatIntervalS, 1), 15) * 1000;
    const existing = this.tenants.get(tenantId);
    if (existing && existing.periodMs === periodMs) return existing;
    if (existing) clearInterval(existing.timer);
    const tenant: TenantStreams = existing ?? { streams: new Set(), timer: undefined!, periodMs, snapshot: null };
    tenant.periodMs = periodMs;
    tenant.timer = setInterval(() => void this.refresh(tenantId), periodMs);
    tenant.timer.unref();
    this.tenants.set(tenantId, tenant);
    return tenant;
  }

  private remove(tenantId: string, stream: Stream): void {
    const tenant = this.tenants.get(tenantId);
    if (!tenant?.streams.delete(stream)) return;
    this.metrics.openStreams.dec();
    if (tenant.streams.size === 0) {
      clearInterval(tenant.timer);
      this.tenants.delete(tenantId);
    }
  }

  private async loadSnapshot(tenantId: string): Promise<Agent[]> {
    const agents = await agentsOfTenant(this.db, tenantId);
    const tenant = this.tenants.get(tenantId);
    if (tenant) tenant.snapshot = { agents, at: Date.now() };
    return agents;
  }

  /** One query for the tenant, written to all of its streams. */
  private async refresh(tenantId: string): Promise<void> {
    try {
      const agents = await this.loadSnapshot(tenantId);
      this.writeTenant(tenantId, frame('snapshot', { agents }));
    } catch (error) {
      this.logger.warn({ err: error, tenantId }, 'snapshot refresh failed');
    }
  }

  private publish(change: StatusChange): void {
    this.metrics.statusEvents.inc({ reason: change.reason });
    if (change.reason === 'timeout') this.metrics.agentsSwept.inc();
    const tenant = this.tenants.get(change.tenant);
    if (!tenant) return;
    tenant.snapshot = null;
    this.writeTenant(
      change.tenant,
      frame('status', { agentId: change.agent, from: change.from, to: change.to, reason: change.reason, at: change.at }),
    );
  }

  private writeTenant(tenantId: string, text: string): void {
    for (const stream of this.tenants.get(tenantId)?.streams ?? []) {
      if (stream.backlog) stream.backlog.push(text);
      else stream.res.write(text);
    }
  }

  private writeAll(text: string): void {
    for (const tenantId of this.tenants.keys()) this.writeTenant(tenantId, text);
  }

  /** Ends every stream (clients reconnect elsewhere) and stops the timers. */
  close(): void {
    clearInterval(this.keepAlive);
    this.listener.off('status', this.onStatus);
    this.listener.off('resync', this.onResync);
    this.listener.off('sessionEnded', this.onSessionEnded);
    for (const tenant of this.tenants.values()) {
      clearInterval(tenant.timer);
      for (const stream of tenant.streams) stream.res.end();
    }
    this.tenants.clear();
    this.metrics.openStreams.set(0);
  }
}

function frame(event: string, data: unknown): string {
  return `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}
