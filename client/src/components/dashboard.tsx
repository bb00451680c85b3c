// The landing page after sign-in. For everyone: the team as the server pushes it (sorted, filtered by status,
// searched by name), each agent's status with its reason, how long, until when and who set it; the signed-in
// agent's own status picker; a banner when this tab's heartbeats are not getting through, and a notice while the
// server is out of reach. For a manager (Me.canManage) it is the supervisor's console: the team's figures live
// (agents per status and reason, free chat capacity, the queue), a panel per agent (today's events and totals, a
// zoomable timeline, setting its status), "Take offline" for an agent that is not offline by choice, and the
// tenant's reasons page (#reasons).
import { useState } from 'react';
import { api, presence, standalonePaths, type Me } from '../api.ts';
import { arrange, skewOf, SORTS, sortLabels, type ListView, type Sort } from '../console.ts';
import { useHash } from '../hooks/use-hash.ts';
import { useNow } from '../hooks/use-now.ts';
import { useReasons } from '../hooks/use-reasons.ts';
import { HttpError, STATUSES, statusLabels, tabId, useAgentStream, useHeartbeat, useSummary, type AgentStatus } from '../presence/index.ts';
import { AgentPanel } from './agent-panel.tsx';
import { AgentRow } from './agent-row.tsx';
import { ReasonsPage } from './reasons-page.tsx';
import { StatusPicker } from './status-picker.tsx';
import { SummaryBar } from './summary-bar.tsx';
import { StatusOptions } from './status-options.tsx';

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
  const { summary } = useSummary(stream, { paths: standalonePaths, enabled: me.canManage });
  const { reasons, reload: reloadReasons } = useReasons();
  const [hash, go] = useHash();
  const [view, setView] = useState<ListView>({ sort: 'name', status: null, query: '' });
  const [selected, setSelected] = useState<string | null>(null);
  const [actionError, setActionError] = useState<string | null>(null);
  const now = useNow(1_000);
  const minute = Math.floor(now / 60_000) * 60_000;
  const skewMs = skewOf(summary);
  const timeZone = me.settings.timeZone;

  const mine = me.agent ? stream.agents?.find((a) => a.id === me.agent?.id) : undefined;
  const reconnecting = stream.reconnecting || heartbeat.unavailable;
  const page = me.canManage && hash === 'reasons' ? 'reasons' : 'team';
  const shown = stream.agents ? arrange(stream.agents, view) : null;
  const open = selected ? stream.agents?.find((a) => a.id === selected) : undefined;

  async function signOut() {
    try {
      await api.logout(tabId());
    } finally {
      onSignedOut();
    }
  }

  async function takeOffline(agentId: string) {
    setActionError(null);
    try {
      await presence.setAgentStatus(agentId, { status: 'offline' });
    } catch (e) {
      if (e instanceof HttpError && e.status === 401) expired();
      else setActionError(e instanceof HttpError ? e.message : 'The agent could not be taken offline. Try again.');
    }
  }

  return (
    <div className={me.canManage ? 'app app-console' : 'app'}>
      <header className="topbar">
        <div>
          <h1>{me.tenant.name}</h1>
          <p className="whoami">
            Signed in as {me.user.name} ({roleLabels[me.user.role]})
          </p>
        </div>
        <nav className="topnav" aria-label="Pages">
          {me.canManage && (
            <>
              <a href="#" aria-current={page === 'team' ? 'page' : undefined} onClick={(e) => (e.preventDefault(), go(''))}>
                Team
              </a>
              <a href="#reasons" aria-current={page === 'reasons' ? 'page' : undefined} onClick={(e) => (e.preventDefault(), go('reasons'))}>
                Reasons
              </a>
            </>
          )}
          <button type="button" className="secondary" onClick={() => void signOut()}>
            Sign out
          </button>
        </nav>
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
            <StatusPicker
              chosen={mine?.chosenStatus ?? me.agent.chosenStatus}
              mine={mine}
              selfId={me.user.id}
              reasons={reasons ?? []}
              timeZone={timeZone}
              onUnauthorized={expired}
            />
            {heartbeat.activity === 'idle' && heartbeat.reaching && (
              <p className="hint">No input for a while: you are reported idle until you move the mouse or type.</p>
            )}
          </section>
        )}

        {page === 'reasons' ? (
          <ReasonsPage reasons={reasons ?? []} reload={reloadReasons} onUnauthorized={expired} />
        ) : (
          <>
            {me.canManage && summary && <SummaryBar summary={summary} now={now} />}
            <div className={open ? 'console with-panel' : 'console'}>
              <section aria-labelledby="team-heading" className="team">
                <div className="section-head">
                  <h2 id="team-heading">Team</h2>
                  <span className={stream.connected ? 'live live-on' : 'live'} role="status">
                    {stream.connected ? 'Live' : 'Connecting to live updates…'}
                  </span>
                </div>
                <div className="controls">
                  <div className="field">
                    <label htmlFor="team-search">Search</label>
                    <input
                      id="team-search"
                      type="search"
                      placeholder="Name or email"
                      value={view.query}
                      onChange={(e) => setView({ ...view, query: e.target.value })}
                    />
                  </div>
                  <div className="field">
                    <label htmlFor="team-filter">Status</label>
                    <select
                      id="team-filter"
                      value={view.status ?? ''}
                      onChange={(e) => setView({ ...view, status: e.target.value === '' ? null : (e.target.value as AgentStatus) })}
                    >
                      <option value="">All</option>
                      <StatusOptions />
                    </select>
                  </div>
                  <div className="field">
                    <label htmlFor="team-sort">Sort by</label>
                    <select id="team-sort" value={view.sort} onChange={(e) => setView({ ...view, sort: e.target.value as Sort })}>
                      {SORTS.map((s) => (
                        <option key={s} value={s}>
                          {sortLabels[s]}
                        </option>
                      ))}
                    </select>
                  </div>
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
                <p className="error" role="alert">
                  {actionError}
                </p>
                {shown === null ? (
                  <p>Loading the team…</p>
                ) : stream.agents!.length === 0 ? (
                  <p>No agents in this team yet.</p>
                ) : shown.length === 0 ? (
                  <p>No agent matches.</p>
                ) : (
                  <ul className="agents">
                    {shown.map((agent) => (
                      <AgentRow
                        key={agent.id}
                        agent={agent}
                        isMe={agent.id === me.agent?.id}
                        changes={stream.changes.get(agent.id) ?? noChanges}
                        now={now}
                        minute={minute}
                        skewMs={skewMs}
                        timeZone={timeZone}
                        onOpen={(id) => setSelected(selected === id ? null : id)}
                        selected={agent.id === selected}
                        {...(me.canManage ? { onTakeOffline: (id: string) => void takeOffline(id) } : {})}
                      />
                    ))}
                  </ul>
                )}
              </section>
              {open && (
                <AgentPanel
                  agent={open}
                  changes={stream.changes.get(open.id) ?? noChanges}
                  now={now}
                  skewMs={skewMs}
                  timeZone={timeZone}
                  canManage={me.canManage}
                  reasons={reasons ?? []}
                  onClose={() => setSelected(null)}
                  onUnauthorized={expired}
                />
              )}
            </div>
          </>
        )}
      </main>
    </div>
  );
}
