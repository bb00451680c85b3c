import { useEffect, useState } from 'react';
import { api, type Me } from './api.ts';
import { Dashboard } from './components/dashboard.tsx';
import { SignIn } from './components/sign-in.tsx';
import { HttpError } from './presence/index.ts';

type Auth = { state: 'loading' } | { state: 'signed-out'; notice?: string | undefined } | { state: 'signed-in'; me: Me };

export function App() {
  const [auth, setAuth] = useState<Auth>({ state: 'loading' });

  useEffect(() => {
    let cancelled = false;
    api
      .me()
      .then((me) => !cancelled && setAuth({ state: 'signed-in', me }))
      .catch((e: unknown) => {
        if (cancelled) return;
        const notice = e instanceof HttpError && e.status === 401 ? undefined : 'The server could not be reached.';
        setAuth({ state: 'signed-out', notice });
      });
    return () => {
      cancelled = true;
    };
  }, []);

  if (auth.state === 'loading') return <p className="loading">Loading…</p>;
  if (auth.state === 'signed-out') {
    return <SignIn notice={auth.notice} onSignedIn={(me) => setAuth({ state: 'signed-in', me })} />;
  }
  return <Dashboard me={auth.me} onSignedOut={(notice) => setAuth({ state: 'signed-out', notice })} />;
}
