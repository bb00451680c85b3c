// The standalone server's `identify`: the session cookie names a sign-in session; concurrent requests share one
// presence_accounts.session_users call (the same batching as the beats), and a request asks at most once.
import type { Request } from 'express';
import type pg from 'pg';
import { Batcher } from '../presence/batcher.ts';
import type { Identity } from '../presence/identity.ts';
import { sessionTokenHash } from './cookie.ts';
import { sessionUsers, type SessionUser } from './sql/session-users.ts';

export class AccountSessions {
  private readonly lookups: Batcher<Buffer, SessionUser | null>;
  private readonly known = new WeakMap<Request, Promise<SessionUser | null>>();

  constructor(db: pg.Pool) {
    this.lookups = new Batcher((hashes) => sessionUsers(db, hashes));
  }

  /** The signed-in user of a request, or null. */
  user(req: Request): Promise<SessionUser | null> {
    let user = this.known.get(req);
    if (!user) {
      const hash = sessionTokenHash(req);
      user = hash ? this.lookups.run(hash) : Promise.resolve(null);
      this.known.set(req, user);
    }
    return user;
  }

  /** presenceRouter's identify: the user's tenant and agent; tabs beat under the sign-in session. */
  readonly identify = async (req: Request): Promise<Identity | null> => {
    const user = await this.user(req);
    return user && { tenantId: user.tenantId, agentId: user.agentId, signIn: user.authSessionId, expiresInS: user.expiresInS };
  };
}
