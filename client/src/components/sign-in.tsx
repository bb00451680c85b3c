import { useState, type FormEvent } from 'react';
import { api, type Me } from '../api.ts';
import { HttpError } from '../presence/index.ts';

/** The lock's length as the server gave it (Retry-After, in seconds): "15 minutes", "1 minute", "40 seconds". */
function howLong(seconds: number | undefined): string {
  if (seconds === undefined) return 'a few minutes';
  if (seconds < 60) return seconds === 1 ? '1 second' : `${seconds} seconds`;
  const minutes = Math.ceil(seconds / 60);
  return minutes === 1 ? '1 minute' : `${minutes} minutes`;
}

export function SignIn({ onSignedIn, notice }: { onSignedIn: (me: Me) => void; notice?: string | undefined }) {
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  async function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      onSignedIn(await api.login(email, password));
    } catch (e) {
      setBusy(false);
      if (e instanceof HttpError && e.status === 401) setError('That email and password do not match.');
      else if (e instanceof HttpError && e.status === 429) setError(`Too many attempts: try again in ${howLong(e.retryAfterS)}.`);
      else if (e instanceof HttpError && e.status === 503) setError('The server is busy: try again in a few seconds.');
      else setError('The server could not be reached. Try again.');
    }
  }

  return (
    <main className="signin">
      <h1>Agent presence</h1>
      <form onSubmit={submit} aria-describedby={error ? 'signin-error' : undefined}>
        <h2>Sign in</h2>
        {notice && <p className="notice">{notice}</p>}
        <label htmlFor="email">Email</label>
        <input
          id="email"
          name="email"
          type="email"
          autoComplete="username"
          required
          value={email}
          onChange={(e) => setEmail(e.target.value)}
        />
        <label htmlFor="password">Password</label>
        <input
          id="password"
          name="password"
          type="password"
          autoComplete="current-password"
          required
          value={password}
          onChange={(e) => setPassword(e.target.value)}
        />
        <p id="signin-error" className="error" role="alert">
          {error}
        </p>
        <button type="submit" disabled={busy}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
      </form>
    </main>
  );
}
