// Live status for GET /stream (Server-Sent Events). A stream costs what changes: its tenant's snapshot once when it
// opens (one query, shared by the tenant's streams opened within a second), then only what happens.
//
// Transitions: the router's one LISTEN connection only rings. On a ring of presence_status the hub reads the status
// events after the last one it read (one query for the whole process, for every tenant it has streams of, page by
// page until drained) and fans them out to the streams of their tenant; on a ring of presence_sign_in_ended it asks
// the database which sign-ins of its open streams have ended and ends those streams. Rings are coalesced (at most
// one read per READ_INTERVAL_MS, whatever arrives), and after the LISTEN connection comes back both reads run from
// where they left off, so nothing is lost. A notification's payload is never read: anyone who can connect can send
// one. Beats that change nothing commit no event and ring nothing.
//
// Timeouts no sweep has recorded yet: the liveness rule makes them at read time, so no event announces them. Each
// tenant carries its next liveness deadline, the earliest moment one of its live agents reads offline unless it
// beats again, as the database computed it (from its snapshot, then from each answer below; a come-back event
// brings it forward). One timer, for the earliest deadline of all tenants, converted to this process's clock with
// the offset between Date.now() and the database's now() measured at the last answer, wakes the hub to ASK: one
// presence.timeouts_due for every tenant due within LOOKAHEAD_MS, which answers with the timeouts the database sees
// since each tenant was last asked and each tenant's next deadline. Agents that keep beating only push deadlines
// out, so a tenant is asked about once per (offline_after_s - heartbeat interval) at most, and tenants due close
// together share the query. Node decides nothing: a timer that fires early finds nothing and asks again later. A
// timeout announced so is sent once: the event that records it later (the sweep, or the agent's next beat) is not.
// The end of a chosen status (its until) is one more such moment: it counts among the deadlines and is announced
// and not sent again the same way (mechanism expiry).
//
// Streams are bounded per sign-in (per agent without one), per tenant and per process: beyond, 429 or 503 with
// Retry-After, before the stream makes a query of its own. Every stream gets a keep-alive comment (every 15 s by
// default).
//
// A stream that ends leaves the hub before anything else happens to it, and nothing is written to a response that
// has ended or failed: one stream's end (a sign-out with the dashboard open, a client gone) never reaches the
// process.
import type { Response } from 'express';
import type { Logger } from 'pino';
import { MECHANISMS, type Agent, type Mechanism, type StatusChange } from '../http/contract.ts';
import { Coalesced } from './coalesce.ts';
import type { Database } from '../database/handle.ts';
import { HttpError } from '../http/http-error.ts';
import type { Caller } from './identity.ts';
import type { ChangeListener } from './listener.ts';
import type { PresenceMetrics } from './metrics.ts';
import { agentsOfTenant } from './sql/agents.ts';
import { signInsEnded } from './sql/sign-ins-ended.ts';
import { statusChangesAfter, type StatusChangeRow, type StatusChangesPage } from './sql/status-changes-after.ts';
import { timeoutsDue } from './sql/timeouts-due.ts';

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
const KNOWN_REASONS: ReadonlySet<string> = new Set(MECHANISMS);
/**
 * A liveness check asks about every tenant whose deadline falls within this many ms, not only those due: asked
 * early, a tenant whose agents beat just gets a later deadline, and checks come at most about once per this long
 * while nothing changes, however many tenants are watched.
 */
const LOOKAHEAD_MS = 15_000;
/** After a failed liveness check, its tenants are asked again this much later at the earliest. */
const RETRY_MS = 1_000;

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
  snapshot: { agents: Agent[]; at: number } | null;
  /** The database's time up to which timeouts have been announced (ISO 8601, microseconds); null before the snapshot. */
  after: string | null;
  /** When to ask about the tenant's timeouts next, database clock, ms since the epoch; null: nothing to ask. */
  deadline: number | null;
  /** The tenant's offline_after_s, for the deadline an agent coming online brings. */
  offlineAfterS: number | null;
  /** Timeouts announced before any event recorded them: agent id -> its `at`, so the recording is not sent again. */
  announced: Map<string, string>;
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
  private readonly liveness = new Coalesced(() => this.checkTimeouts(), READ_INTERVAL_MS);
  private livenessTimer: NodeJS.Timeout | null = null;
  /** The deadline (database clock, ms) the timer is set for. */
  private timerAt: number | null = null;
  /** Date.now() minus the database's now(), as measured at the last answer that carried it. */
  private offsetMs = 0;
  private readonly tenantChanged: Array<(tenantId: string) => void> = [];

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
    this.changed(tenantId);
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
      tenant = { streams: new Set(), snapshot: null, after: null, deadline: null, offlineAfterS: null, announced: new Map() };
      this.tenants.set(tenantId, tenant);
      this.joined?.add(tenantId);
    }
    return tenant;
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
    if (tenant.streams.size === 0) this.tenants.delete(tenantId);
  }

  /** Out of the hub first, then the response ends: nothing can write to it afterwards. */
  private end(tenantId: string, stream: Stream): void {
    this.remove(tenantId, stream);
    if (!stream.res.writableEnded) stream.res.end();
  }

  private async loadSnapshot(tenantId: string): Promise<Agent[]> {
    const read = await agentsOfTenant(this.db, tenantId);
    const tenant = this.tenants.get(tenantId);
    if (tenant) {
      tenant.snapshot = { agents: read.agents, at: Date.now() };
      if (read.checkedAt) this.offsetMs = Date.now() - read.checkedAt.getTime();
      // Only the first snapshot sets where the tenant's timeouts start: a later one (a stream opened after the
      // first) must not skip a timeout the tenant's older streams have not been told of.
      tenant.after ??= read.after;
      tenant.offlineAfterS = read.offlineAfterS;
      if (read.nextCheckAt) this.setDeadline(tenant, read.nextCheckAt.getTime());
    }
    return read.agents;
  }

  /** Brings the tenant's deadline forward to `at` (database clock, ms) if earlier, and the timer with it. */
  private setDeadline(tenant: TenantStreams, at: number): void {
    if (tenant.deadline === null || at < tenant.deadline) tenant.deadline = at;
    if (this.timerAt === null || at < this.timerAt) this.arm(at);
  }

  /** Sets the one liveness timer for `at` (database clock, ms), or clears it. */
  private arm(at: number | null): void {
    if (this.livenessTimer) clearTimeout(this.livenessTimer);
    this.livenessTimer = null;
    this.timerAt = at;
    if (at === null) return;
    const wait = Math.min(Math.max(at + this.offsetMs - Date.now(), 0), 2 ** 31 - 1);
    this.livenessTimer = setTimeout(() => {
      this.livenessTimer = null;
      this.timerAt = null;
      this.liveness.ring();
    }, wait);
    this.livenessTimer.unref();
  }

  /** The timer for the earliest deadline of all tenants. */
  private rearm(): void {
    let earliest: number | null = null;
    for (const tenant of this.tenants.values()) {
      if (tenant.deadline !== null && (earliest === null || tenant.deadline < earliest)) earliest = tenant.deadline;
    }
    this.arm(earliest);
  }

  /**
   * Asks the database, in one query, about the timeouts of every tenant due within LOOKAHEAD_MS, announces them to
   * the tenants' streams, and takes each tenant's next deadline from the answer.
   */
  private async checkTimeouts(): Promise<void> {
    const horizon = Date.now() - this.offsetMs + LOOKAHEAD_MS;
    const asked: Array<{ tenantId: string; tenant: TenantStreams; after: string; deadline: number }> = [];
    for (const [tenantId, tenant] of this.tenants) {
      if (tenant.deadline !== null && tenant.after !== null && tenant.deadline <= horizon) {
        asked.push({ tenantId, tenant, after: tenant.after, deadline: tenant.deadline });
        // Events read while the question is out bring a deadline of their own; the answer's is added to it.
        tenant.deadline = null;
      }
    }
    try {
      const answers = await timeoutsDue(this.db, asked);
      const receivedAt = Date.now();
      const askedAbout = new Map(asked.map((a) => [a.tenantId, a.tenant]));
      for (const answer of answers) {
        this.offsetMs = receivedAt - answer.dbNow.getTime();
        const tenant = this.tenants.get(answer.tenantId);
        // A tenant whose streams all closed meanwhile (and perhaps opened again, with a snapshot of their own).
        if (!tenant || askedAbout.get(answer.tenantId) !== tenant) continue;
        if (tenant.after === null || answer.after > tenant.after) tenant.after = answer.after;
        for (const row of answer.timeouts) this.announce(tenant, row);
        if (answer.nextCheckAt) this.setDeadline(tenant, answer.nextCheckAt.getTime());
      }
    } catch (error) {
      const retryAt = Date.now() - this.offsetMs + RETRY_MS;
      for (const { tenantId, tenant, deadline } of asked) {
        if (this.tenants.get(tenantId) === tenant) this.setDeadline(tenant, Math.max(deadline, retryAt));
      }
      if (this.db.availability?.available !== false) this.logger.warn({ err: error }, 'asking for timeouts failed');
    }
    this.rearm();
  }

  /** A timeout the database sees and no event has recorded yet: sent once. */
  private announce(tenant: TenantStreams, row: Omit<StatusChangeRow, 'id'>): void {
    const at = new Date(row.at).toISOString();
    if (tenant.announced.get(row.agent) === at) return;
    tenant.announced.set(row.agent, at);
    this.publish(row);
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
          for (const change of page.changes) this.record(change);
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
      if (Number(change.id) <= Number(page.nextAfter) && !inFlight.has(String(change.id))) this.record(change);
    }
  }

  /** Metric labels come from a fixed set: a reason the code does not know counts as `other`. */
  private count(reasonCounts: Array<[string, number]>): void {
    for (const [reason, n] of reasonCounts) {
      this.metrics.statusEvents.inc({ reason: KNOWN_REASONS.has(reason) ? reason : 'other' }, n);
      if (reason === 'timeout') this.metrics.agentsSwept.inc(n);
    }
  }

  /**
   * A recorded transition. Not sent again when it records a timeout already announced; an agent coming online
   * brings its tenant's next deadline forward to when it reads offline unless it beats again.
   */
  private record(row: StatusChangeRow): void {
    const tenant = this.tenants.get(row.tenant);
    if (!tenant) return;
    const announced = tenant.announced.get(row.agent);
    if (announced !== undefined) {
      tenant.announced.delete(row.agent);
      const recordsAnnounced = (row.mechanism === 'timeout' && row.to === 'offline') || row.mechanism === 'expiry';
      if (recordsAnnounced && new Date(row.at).toISOString() === announced) return;
    }
    if (row.from === 'offline' && row.to !== 'offline' && tenant.offlineAfterS !== null) {
      this.setDeadline(tenant, Date.parse(row.at) + tenant.offlineAfterS * 1000);
    }
    // A chosen status that ends: the tenant is asked then, and its streams hear the end at once.
    if (row.until !== null && row.to !== 'offline') this.setDeadline(tenant, Date.parse(row.until));
    this.publish(row);
  }

  private publish(row: Omit<StatusChangeRow, 'id'>): void {
    const tenant = this.tenants.get(row.tenant);
    if (!tenant) return;
    tenant.snapshot = null;
    const change: StatusChange = {
      agentId: row.agent,
      from: row.from,
      to: row.to,
      chosenStatus: row.chosen ?? row.to,
      mechanism: row.mechanism as Mechanism,
      reason: row.reason,
      actor: row.actor,
      until: row.until === null ? null : new Date(row.until).toISOString(),
      at: new Date(row.at).toISOString(),
    };
    this.writeTenant(row.tenant, frame('status', change));
    this.changed(row.tenant);
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

  /**
   * Calls `listener` with a tenant's id whenever its streams are sent a transition or a stream of it opens: what
   * another feed of the streams (the summaries) needs to know to read only when something changed.
   */
  onTenantChange(listener: (tenantId: string) => void): void {
    this.tenantChanged.push(listener);
  }

  private changed(tenantId: string): void {
    for (const listener of this.tenantChanged) listener(tenantId);
  }

  /** The tenants with open streams in this process, with how many each. */
  openTenants(): Map<string, number> {
    return new Map([...this.tenants].map(([tenantId, tenant]) => [tenantId, tenant.streams.size]));
  }

  /** Sends one event to every open stream of a tenant (for another feed of the streams: the summaries). */
  broadcast(tenantId: string, event: string, data: unknown): void {
    this.writeTenant(tenantId, frame(event, data));
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
    this.arm(null);
    this.liveness.close();
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
