import { act, cleanup, fireEvent, render, screen } from '@testing-library/react';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { SignIn } from './sign-in.tsx';

/** The server's answer to POST /api/auth/login, as the page's fetch receives it. */
function answer(status: number, body: unknown) {
  vi.stubGlobal(
    'fetch',
    vi.fn(async () => ({ ok: status < 400, status, json: async () => body }) as Response),
  );
}

async function submit(): Promise<void> {
  render(<SignIn onSignedIn={() => {}} />);
  fireEvent.change(screen.getByLabelText('Email'), { target: { value: 'sam@example.com' } });
  fireEvent.change(screen.getByLabelText('Password'), { target: { value: 'a wrong password' } });
  await act(async () => {
    fireEvent.click(screen.getByRole('button', { name: 'Sign in' }));
  });
}

afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
});

describe('the sign-in page', () => {
  it('says how long a sign-in lock lasts, from the figure in the 429 answer', async () => {
    // Setup
    answer(429, { error: 'too many failed sign-in attempts: try again in 15 minutes', code: 'rate_limited', retryAfterS: 897 });

    // Action
    await submit();

    // Assertions
    expect(screen.getByRole('alert').textContent).toBe('Too many attempts: try again in 15 minutes.');
  });

  it('says the server is busy when sign-ins are answered 503', async () => {
    // Setup
    answer(503, { error: 'too many sign-ins at once: try again in a second', code: 'sign_in_busy' });

    // Action
    await submit();

    // Assertions
    expect(screen.getByRole('alert').textContent).toBe('The server is busy: try again in a few seconds.');
  });
});
