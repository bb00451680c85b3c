// useReasons: the tenant's reasons (retired ones too, flagged), fetched once; `reload` after a change to them.
import { useCallback, useEffect, useState } from 'react';
import { presence } from '../api.ts';
import type { TenantReason } from '../presence/index.ts';

export interface Reasons {
  /** null until they arrive. */
  reasons: TenantReason[] | null;
  failed: boolean;
  reload: () => void;
}

export function useReasons(): Reasons {
  const [reasons, setReasons] = useState<TenantReason[] | null>(null);
  const [failed, setFailed] = useState(false);
  const [attempt, setAttempt] = useState(0);

  useEffect(() => {
    let cancelled = false;
    presence
      .reasons()
      .then((r) => {
        if (cancelled) return;
        setReasons(r.reasons);
        setFailed(false);
      })
      .catch(() => !cancelled && setFailed(true));
    return () => {
      cancelled = true;
    };
  }, [attempt]);

  return { reasons, failed, reload: useCallback(() => setAttempt((n) => n + 1), []) };
}
