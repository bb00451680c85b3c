// The team dashboard, the landing page after sign-in: every agent as the server pushes it, the signed-in agent's
// status picker, a banner when this tab's heartbeats are not getting through, and a notice while the server is out
// of reach (the stream is down, or beats find no server) that goes away once the connection is back.
import { api, standalonePaths, type Me } from '../api.ts';
import { useNow } from '../hooks/use-now.ts';
import { HttpError, STATUSES, statusLabels, tabId, useAgentStream, useHeartbeat } from '../presence/index.ts';
import { AgentRow } from './agent-row.tsx';
import { StatusPicker } from './status-picker.tsx';

const noChanges: never[] = [];
const roleLabels: Record<Me['user']['role'], string> = { support_staff: 'agent', client_admin: 'admin', supervisor: 'supervisor' };

export function Dashboard({ me, onSignedOut }: { me: Me; onSignedOut: (notice?: string) => void }) {
  const expired = () => onSignedOut('Your session has ended. Sign in again.');
  const heartbeat = useHeartbeat({
    paths: standalonePaths,
    enabled: me.agent !== null,
    intervalMs: me.settings.heartbeatIntervalMs,
    awayAfterMs: me.settings.awayAfterMs,
    onUnauthorized: expired,
  });
  const stream = useAgentStream({
    paths: standalonePaths,
    // The server closed the stream: if the session is gone, back to sign-in; otherwise the hook reconnects.
    onClosed: () =>
      void api.me().catch((e: unknown) => {
        if (e instanceof HttpError && e.status === 401) expired();
      }),
  });
  const now = useNow(1_000);
  const minute = Math.floor(now / 60_000) * 60_000;

  const mine = me.agent ? stream.agents?.find((a) => a.id === me.agent?.id) : undefined;
  const reconnecting = stream.reconnecting || heartbeat.unavailable;

  async function signOut() {
    try {
      await api.logout(tabId());
    } finally {
      onSignedOut();
    }
  }

  return (
    <div className="app">
      <header className="topbar">
        <div>
          <h1>{me.tenant.name}</h1>
          <p className="whoami">
            Signed in as {me.user.name} ({roleLabels[me.user.role]})
          </p>
        </div>
        <button type="button" className="secondary" onClick={() => void signOut()}>
          Sign out
        </button>
      </header>

      <div className="banner-region" aria-live="assertive" aria-atomic="true">
        {me.agent && !heartbeat.reaching && (
          <p className="banner">
            Your presence is not reaching the server, so the team may see you as offline.
            {heartbeat.retryInMs !== null && ` Retrying in ${Math.ceil(heartbeat.retryInMs / 1000)} s.`}
          </p>
        )}
      </div>
      <div className="banner-region" aria-live="polite" aria-atomic="true">
        {reconnecting && (
          <p className="banner banner-reconnecting" data-testid="reconnecting">
            Reconnecting to the server… The team shown here may be out of date until it is back.
          </p>
        )}
      </div>

      <main>
        {me.agent && (
          <section className="mine" aria-labelledby="mine-heading">
            <h2 id="mine-heading" className="visually-hidden">
              My presence
            </h2>
            <StatusPicker chosen={mine?.chosenStatus ?? me.agent.chosenStatus} onUnauthorized={expired} />
            {heartbeat.activity === 'idle' && heartbeat.reaching && (
              <p className="hint">No input for a while: you are reported idle until you move the mouse or type.</p>
            )}
          </section>
        )}

        <section aria-labelledby="team-heading">
          <div className="section-head">
            <h2 id="team-heading">Team</h2>
            <span className={stream.connected ? 'live live-on' : 'live'} role="status">
              {stream.connected ? 'Live' : 'Connecting to live updates…'}
            </span>
          </div>
          <ul className="legend" aria-label="Timeline colours: the last 24 hours, now at the right">
            {STATUSES.map((status) => (
              <li key={status}>
                <span className={`swatch span-${status}`} aria-hidden="true" />
                {statusLabels[status]}
              </li>
            ))}
            <li className="legend-note">last 24 h, now at the right</li>
          </ul>
          {stream.agents === null ? (
            <p>Loading the team…</p>
          ) : stream.agents.length === 0 ? (
            <p>No agents in this team yet.</p>
          ) : (
            <ul className="agents">
              {stream.agents.map((agent) => (
                <AgentRow
                  key={agent.id}
                  agent={agent}
                  isMe={agent.id === me.agent?.id}
                  changes={stream.changes.get(agent.id) ?? noChanges}
                  now={now}
                  minute={minute}
                />
              ))}
            </ul>
          )}
        </section>
      </main>
    </div>
  );
}
