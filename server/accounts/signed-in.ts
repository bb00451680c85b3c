// The standalone server's `identify`: the cookie names a sign-in; concurrent requests share one
// presence_accounts.session_users call (the same batching as the beats), and a request asks at most once. And its
// `beat`: a heartbeat is one database call, presence_accounts.heartbeats, which verifies the sign-in and beats for
// its agent (concurrent beats share it too), instead of the lookup and then presence.heartbeats.
import type { Request } from 'express';
import type { Database } from '../database/handle.ts';
import { Batcher } from '../database/batcher.ts';
import type { Role } from '../http/contract.ts';
import type { BeatOutcome, IdentifiedBeat, Identity } from '../presence/identity.ts';
import { signInTokenHash } from './cookie.ts';
import { signedInHeartbeats, type SignedInBeat } from './sql/signed-in-heartbeats.ts';
import { signedInUsers, type SignedInUser } from './sql/signed-in-users.ts';

export class SignedInUsers {
  private readonly lookups: Batcher<Buffer, SignedInUser | null>;
  private readonly beats: Batcher<SignedInBeat, BeatOutcome>;
  private readonly known = new WeakMap<Request, Promise<SignedInUser | null>>();

  constructor(db: Database) {
    this.lookups = new Batcher((hashes) => signedInUsers(db, hashes));
    this.beats = new Batcher((beats) => signedInHeartbeats(db, beats));
  }

  /** The signed-in user of a request, or null. */
  user(req: Request): Promise<SignedInUser | null> {
    let user = this.known.get(req);
    if (!user) {
      const hash = signInTokenHash(req);
      user = hash ? this.lookups.run(hash) : Promise.resolve(null);
      this.known.set(req, user);
    }
    return user;
  }

  /**
   * presenceRouter's identify: the user's tenant and agent; tabs beat under the sign-in; the user acts as themself
   * and manages the team when their role is client_admin or supervisor.
   */
  readonly identify = async (req: Request): Promise<Identity | null> => {
    const user = await this.user(req);
    return (
      user && {
        tenantId: user.tenantId,
        agentId: user.agentId,
        signIn: user.signInId,
        expiresInS: user.expiresInS,
        actor: { id: user.userId, name: user.name },
        canManage: canManage(user.role),
      }
    );
  };

  /** presenceRouter's beat: the sign-in verified and the beat recorded in one call. */
  readonly beat: IdentifiedBeat = async (req, { tabId, activity }) => {
    const tokenHash = signInTokenHash(req);
    if (!tokenHash) return { outcome: 'unauthenticated' };
    return this.beats.run({ tokenHash, tabId, activity });
  };
}

/** The standalone server's roles that manage the team: set others' statuses, edit the tenant's reasons. */
export function canManage(role: Role): boolean {
  return role === 'client_admin' || role === 'supervisor';
}
