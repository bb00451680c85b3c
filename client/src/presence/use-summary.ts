// useSummary: the team in figures (agents per status and reason, free chat capacity, the queue) as the server
// counts them: fetched once from GET {basePath}/summary, then each `summary` event of the stream, whichever the
// database dated later. Pass the stream useAgentStream opened, so the page keeps one connection.
import { useEffect, useRef, useState } from 'react';
import type { Summary } from '../../../server/http/contract.ts';
import { createPresenceApi, type PresenceClientOptions } from './api.ts';
import type { AgentStream, LiveSummary } from './use-agent-stream.ts';

export interface SummaryOptions extends PresenceClientOptions {
  /** false: nothing is fetched (a page that is not a manager's, say). Default true. */
  enabled?: boolean;
}

export interface SummaryState {
  summary: LiveSummary | null;
  /** The first fetch failed (a 403 for someone who may not see it, say); pushed summaries still count. */
  failed: boolean;
}

export function useSummary(stream: Pick<AgentStream, 'summary'>, options: SummaryOptions = {}): SummaryState {
  const [fetched, setFetched] = useState<LiveSummary | null>(null);
  const [failed, setFailed] = useState(false);
  const latest = useRef(options);
  latest.current = options;
  const { enabled = true } = options;

  useEffect(() => {
    if (!enabled) return;
    let cancelled = false;
    createPresenceApi(latest.current)
      .summary()
      .then((s: Summary) => !cancelled && setFetched({ ...s, receivedAt: Date.now() }))
      .catch(() => !cancelled && setFailed(true));
    return () => {
      cancelled = true;
    };
  }, [enabled]);

  const pushed = stream.summary;
  const summary = !pushed ? fetched : !fetched || Date.parse(pushed.at) >= Date.parse(fetched.at) ? pushed : fetched;
  return { summary: enabled ? summary : null, failed: failed && !summary };
}
