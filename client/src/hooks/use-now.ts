// useNow: the local time, re-read every `everyMs` (null pauses). Only for showing elapsed time since a server
// message arrived ("last seen 12 s ago"); presence itself is never decided from this clock.
import { useEffect, useState } from 'react';

export function useNow(everyMs: number | null): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    if (everyMs === null) return;
    const handle = setInterval(() => setNow(Date.now()), everyMs);
    return () => clearInterval(handle);
  }, [everyMs]);
  return now;
}
