// Live status for GET /stream (Server-Sent Events). The router's one LISTEN connection only rings: on a ring of
// presence_status the hub reads the status events after the last one it read (one query for the whole process, for
// every tenant it has streams of, page by page until drained) and fans them out to the streams of their tenant; on a
// ring of presence_sign_in_ended it asks the database which sign-ins of its open streams have ended and ends those
// streams. Rings are coalesced (at most one read per READ_INTERVAL_MS, whatever arrives), and after the LISTEN
// connection comes back both reads run from where they left off, so nothing is lost. A notification's payload is
// never read: anyone who can connect can send one.
//
// Each tenant with open streams also gets its snapshot re-sent every heartbeat interval (1-15 s, each tenant at its
// own phase), from ONE query shared by all of that tenant's streams, so derived offline and last-seen stay current
// without a transition; and every stream gets a keep-alive comment (every 15 s by default).
//
// Streams are bounded per sign-in (per agent without one), per tenant and per process: beyond, 429 or 503 with
// Retry-After, before the stream makes a query of its own.
//
// A stream that ends leaves the hub before anything else happens to it, and nothing is written to a response that
// has ended or failed: one stream's end (a sign-out with the dashboard open, a client gone) never reaches the
// process.
import type { Response } from 'express';
import type { Logger } from 'pino';
import { REASONS, type Agent, type Reason, type StatusChange } from '../http/contract.ts';
import { Coalesced } from './coalesce.ts';
import type { Database } from '../database/handle.ts';
import { HttpError } from '../http/http-error.ts';
import type { Caller } from './identity.ts';
import type { ChangeListener } from './listener.ts';
import type { PresenceMetrics } from './metrics.ts';
import { agentsOfTenant } from './sql/agents.ts';
import { signInsEnded } from './sql/sign-ins-ended.ts';
import { statusChangesAfter, type StatusChangeRow, type StatusChangesPage } from './sql/status-changes-after.ts';

/** At most one read of the events (and one of the ended sign-ins) per this many ms, however many rings arrive. */
const READ_INTERVAL_MS = 100;
/** Event ids per read; a larger backlog is read in pages of this many, one after the other. */
const EVENTS_PAGE = 1_000;
/** Sign-ins asked about per query. */
const SIGN_INS_PAGE = 1_000;
/**
 * Event ids seen taken but not yet committed that the hub keeps asking about. Only a transaction still running holds
 * one, so there are a handful; beyond this many (a long-running writer somewhere) the oldest are given up, and the
 * tenant's next snapshot shows their outcome.
 */
const MAX_PENDING = 10_000;
const KNOWN_REASONS: ReadonlySet<string> = new Set(REASONS);

export interface StreamLimits {
  /** Open streams of one sign-in (of one agent when `identify` gives no sign-in). */
  perSignIn: number;
  /** Open streams of one tenant in this process. */
  perTenant: number;
  /** Open streams in this process. */
  perProcess: number;
}

/** A snapshot this young is good enough for a stream that just opened. */
const SNAPSHOT_REUSE_MS = 1_000;

interface Stream {
  res: Response;
  tenantId: string;
  /** Whose streams it counts among for the per-sign-in limit (null: a watcher with neither sign-in nor agent). */
  owner: string | null;
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
  /** Open streams per owner (sign-in, or agent), for the per-sign-in limit. */
  private readonly owners = new Map<string, number>();
  private total = 0;
  private readonly keepAlive: NodeJS.Timeout;
  /** The last event id read (null until the first read), and the ids taken before it not yet seen committed. */
  private after: string | null = null;
  private pending: { ids: string[]; xids: string[] } = { ids: [], xids: [] };
  private readonly events = new Coalesced(() => this.readEvents(), READ_INTERVAL_MS);
  /** Tenants whose first stream opened while a page of events was being read (so that page did not ask for them). */
  private joined: Set<string> | null = null;
  private readonly signIns = new Coalesced(() => this.checkSignIns(), READ_INTERVAL_MS);
  /** Whether the next sign-in check asks about every open stream (after a ring), or only those opened since. */
  private checkAll = false;
  /**
   * Streams opened since the last sign-in check: a sign-out that committed between the caller's identification and
   * the stream joining the hub rang before the stream could hear it, so each new stream's sign-in is asked about once.
   */
  private readonly opened = new Set<Stream>();
  private readonly onStatus = () => this.events.ring();
  private readonly onSignInEnded = () => {
    this.checkAll = true;
    this.signIns.ring();
  };
  private readonly onListening = () => {
    this.events.ring();
    this.onSignInEnded();
  };

  constructor(
    private readonly db: Database,
    private readonly listener: ChangeListener,
    private readonly metrics: PresenceMetrics,
    private readonly logger: Logger,
    keepAliveMs: number,
    private readonly limits: StreamLimits,
  ) {
    listener.on('status', this.onStatus);
    listener.on('listening', this.onListening);
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
    const owner = ownerOf(caller);
    this.admit(tenantId, owner);
    const stream: Stream = { res, tenantId, owner, signIn: caller.signIn, backlog: [], expiry: null, ended: false };
    const tenant = this.tenantFor(tenantId);
    tenant.streams.add(stream);
    this.total += 1;
    if (owner !== null) this.owners.set(owner, (this.owners.get(owner) ?? 0) + 1);
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
    if (stream.signIn !== null) {
      this.opened.add(stream);
      this.signIns.ring();
    }
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
    return this.total;
  }

  /** Throws the 503 or 429 of a stream beyond a limit; the process's limit first, as it protects everyone. */
  private admit(tenantId: string, owner: string | null): void {
    const { perProcess, perTenant, perSignIn } = this.limits;
    if (this.total >= perProcess) {
      this.metrics.streamsRefused.inc({ limit: 'process' });
      throw new HttpError(503, 'server_busy', `this server has ${perProcess} live streams open, its limit: try again shortly`, {
        'Retry-After': '5',
      });
    }
    if ((this.tenants.get(tenantId)?.streams.size ?? 0) >= perTenant) {
      this.metrics.streamsRefused.inc({ limit: 'tenant' });
      throw new HttpError(
        429,
        'too_many_streams',
        `your team has ${perTenant} live streams open on this server, its limit: close one (a dashboard tab) first`,
        { 'Retry-After': '10' },
      );
    }
    if (owner !== null && (this.owners.get(owner) ?? 0) >= perSignIn) {
      this.metrics.streamsRefused.inc({ limit: 'sign_in' });
      throw new HttpError(
        429,
        'too_many_streams',
        `this sign-in has ${perSignIn} live streams open, its limit: close one (a dashboard tab) first`,
        { 'Retry-After': '10' },
      );
    }
  }

  private tenantFor(tenantId: string): TenantStreams {
    let tenant = this.tenants.get(tenantId);
    if (!tenant) {
      tenant = { streams: new Set(), timer: null, periodMs: 0, snapshot: null };
      this.tenants.set(tenantId, tenant);
      this.joined?.add(tenantId);
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
    this.opened.delete(stream);
    if (stream.expiry) clearTimeout(stream.expiry);
    const tenant = this.tenants.get(tenantId);
    if (!tenant?.streams.delete(stream)) return;
    this.total -= 1;
    if (stream.owner !== null) {
      const left = (this.owners.get(stream.owner) ?? 1) - 1;
      if (left > 0) this.owners.set(stream.owner, left);
      else this.owners.delete(stream.owner);
    }
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
      if (this.db.availability?.available !== false) this.logger.warn({ err: error, tenantId }, 'snapshot refresh failed');
    }
  }

  /**
   * Reads the events after the last one read, for every tenant with open streams, page after page until none is
   * left, and writes each to its tenant's streams. The first read only finds where "now" is.
   */
  private async readEvents(): Promise<void> {
    try {
      for (;;) {
        const { after, pending } = this;
        this.joined = new Set();
        const page = await statusChangesAfter(this.db, after, [...this.tenants.keys()], pending, EVENTS_PAGE);
        const joined = [...this.joined];
        this.joined = null;
        this.after = page.nextAfter;
        this.pending = keepNewest(page.pending, MAX_PENDING);
        if (after !== null) {
          this.count(page.reasonCounts);
          for (const change of page.changes) this.publish(change);
          if (joined.length > 0) await this.catchUp(after, pending, page, joined);
        }
        if (!page.more) return;
      }
    } catch (error) {
      // Read again from the same place at the next ring or when the LISTEN connection is back.
      if (this.db.availability?.available !== false) this.logger.warn({ err: error }, 'reading status events failed');
    }
  }

  /**
   * The same page again for the tenants that joined while it was read: what it found for them (an event that
   * committed after their first snapshot was read is in it). Ids still in flight then are left out: they come with
   * a later page, which asks for these tenants too.
   */
  private async catchUp(
    after: string,
    pending: { ids: string[]; xids: string[] },
    page: StatusChangesPage,
    joined: string[],
  ): Promise<void> {
    const span = Number(page.nextAfter) - Number(after);
    if (span < 1 && pending.ids.length === 0) return;
    const again = await statusChangesAfter(this.db, after, joined, pending, Math.max(span, 1));
    const inFlight = new Set(page.pending.ids);
    for (const change of again.changes) {
      if (Number(change.id) <= Number(page.nextAfter) && !inFlight.has(String(change.id))) this.publish(change);
    }
  }

  /** Metric labels come from a fixed set: a reason the code does not know counts as `other`. */
  private count(reasonCounts: Array<[string, number]>): void {
    for (const [reason, n] of reasonCounts) {
      this.metrics.statusEvents.inc({ reason: KNOWN_REASONS.has(reason) ? reason : 'other' }, n);
      if (reason === 'timeout') this.metrics.agentsSwept.inc(n);
    }
  }

  private publish(row: StatusChangeRow): void {
    const tenant = this.tenants.get(row.tenant);
    if (!tenant) return;
    tenant.snapshot = null;
    const change: StatusChange = {
      agentId: row.agent,
      from: row.from,
      to: row.to,
      chosenStatus: row.chosen ?? row.to,
      reason: row.reason as Reason,
      at: new Date(row.at).toISOString(),
    };
    this.writeTenant(row.tenant, frame('status', change));
  }

  /** Asks the database which sign-ins of the open streams have ended, and ends exactly their streams. */
  private async checkSignIns(): Promise<void> {
    const open = new Map<string, { tenantId: string; signIn: string }>();
    const add = (tenantId: string, stream: Stream) => {
      if (stream.signIn !== null && !stream.ended) open.set(signInKey(tenantId, stream.signIn), { tenantId, signIn: stream.signIn });
    };
    if (this.checkAll) {
      for (const [tenantId, tenant] of this.tenants) for (const stream of tenant.streams) add(tenantId, stream);
    } else {
      for (const stream of this.opened) add(stream.tenantId, stream);
    }
    this.checkAll = false;
    this.opened.clear();
    const all = [...open.values()];
    try {
      for (let i = 0; i < all.length; i += SIGN_INS_PAGE) {
        for (const { tenantId, signIn } of await signInsEnded(this.db, all.slice(i, i + SIGN_INS_PAGE))) {
          for (const stream of [...(this.tenants.get(tenantId)?.streams ?? [])]) {
            if (stream.signIn === signIn) this.end(tenantId, stream);
          }
        }
      }
    } catch (error) {
      // Asked again, about every open stream, at the next ring or when the LISTEN connection is back.
      this.checkAll = true;
      if (this.db.availability?.available !== false) this.logger.warn({ err: error }, 'reading ended sign-ins failed');
    }
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
    this.events.close();
    this.signIns.close();
    this.listener.off('status', this.onStatus);
    this.listener.off('listening', this.onListening);
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

/** Whose streams a caller's stream counts among: its sign-in, else its agent, else nobody's (tenant limit only). */
function ownerOf(caller: Caller): string | null {
  if (caller.signIn !== null) return `sign-in ${signInKey(caller.tenantId, caller.signIn)}`;
  if (caller.agentId !== null) return `agent ${caller.tenantId}\u0000${caller.agentId}`;
  return null;
}

function signInKey(tenantId: string, signIn: string): string {
  return `${tenantId}\u0000${signIn}`;
}

function keepNewest(pending: { ids: string[]; xids: string[] }, max: number): { ids: string[]; xids: string[] } {
  if (pending.ids.length <= max) return pending;
  return { ids: pending.ids.slice(-max), xids: pending.xids.slice(-max) };
}
