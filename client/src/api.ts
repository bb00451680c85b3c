// The dashboard's own calls: this project's sign-in (login, me, logout), and where the standalone server keeps the
// presence routes. Same origin, authenticated by the presence_session cookie; errors come back as {error, code}.
import { AUTH_PATHS, STANDALONE_PATHS, type LoginRequest, type LogoutRequest, type Me } from '../../server/http/contract.ts';
import { createPresenceApi } from './presence/index.ts';
import { requestJson } from './presence/api.ts';

export type { Me };

/** The standalone server mounts the presence routes at the paths it has always had. */
export const standalonePaths = STANDALONE_PATHS;

export const presence = createPresenceApi({ paths: standalonePaths });

export const api = {
  me: () => requestJson<Me>('GET', AUTH_PATHS.me),
  login: (email: string, password: string) =>
    requestJson<Me>('POST', AUTH_PATHS.login, { body: { email, password } satisfies LoginRequest }),
  logout: (tabId?: string) => requestJson<void>('POST', AUTH_PATHS.logout, { body: { sessionId: tabId } satisfies LogoutRequest }),
};

