// useHash: the page's location hash without its '#' ('' for none), following back and forward; `go` sets it.
import { useCallback, useEffect, useState } from 'react';

export function useHash(): [string, (hash: string) => void] {
  const [hash, setHash] = useState(() => location.hash.slice(1));
  useEffect(() => {
    const onChange = () => setHash(location.hash.slice(1));
    window.addEventListener('hashchange', onChange);
    return () => window.removeEventListener('hashchange', onChange);
  }, []);
  const go = useCallback((next: string) => {
    location.hash = next;
    setHash(next);
  }, []);
  return [hash, go];
}
