// Who is asking: the platform's `identify(req)` answers, the router trusts it. Ids are the platform's own keys.
import type { Request } from 'express';
import type { Activity, Actor } from '../http/contract.ts';
import type { BeatResult } from './sql/heartbeats.ts';

type Key = string | number | bigint;

export interface Identity {
  tenantId: Key;
  /** null for a user who watches but does not beat (a supervisor). */
  agentId: Key | null;
  /**
   * The sign-in this request belongs to (the platform's session id, say). Tabs beat under it, so that signing out
   * with presence.end_sign_in ends exactly its tabs and its live streams. Optional.
   */
  signIn?: string | null;
  /** Seconds until that sign-in expires: a live stream opened with it ends then. Optional. */
  expiresInS?: number | null;
  /** Who is acting, as the platform knows them (its user id and a name): recorded on the transitions they cause. */
  actor?: { id: Key; name?: string | null } | null;
  /** May manage the team: set other agents' statuses, edit the tenant's reasons. Default false. */
  canManage?: boolean;
}

/** Returns the identity of a request, or null for 401. May be async. */
export type Identify = (req: Request) => Identity | null | Promise<Identity | null>;

export interface Caller {
  tenantId: string;
  agentId: string | null;
  signIn: string | null;
  expiresInS: number | null;
  actor: Actor | null;
  canManage: boolean;
}

export function toCaller(identity: Identity): Caller {
  return {
    tenantId: String(identity.tenantId),
    agentId: identity.agentId === null || identity.agentId === undefined ? null : String(identity.agentId),
    signIn: identity.signIn ?? null,
    expiresInS: identity.expiresInS ?? null,
    actor:
      identity.actor === null || identity.actor === undefined
        ? null
        : { id: String(identity.actor.id), name: identity.actor.name ?? null },
    canManage: identity.canManage === true,
  };
}

/** What became of one beat: recorded (with its answer), a caller without an agent, or no valid sign-in (401). */
export type BeatOutcome = { outcome: 'beat'; result: BeatResult } | { outcome: 'not_agent' } | { outcome: 'unauthenticated' };

/**
 * Identifies the caller and records its beat in one step, for a host whose sign-in lives in the same database (the
 * standalone server: presence_accounts.heartbeats, one call). `tabId` null is the caller's unnamed tab, which must be
 * named `unnamed:` and the sign-in's id, as the router names it. May be given to presenceRouter as `beat`.
 */
export type IdentifiedBeat = (req: Request, beat: { tabId: string | null; activity: Activity }) => Promise<BeatOutcome>;
