// One id per tab and page load (sent as the wire's `sessionId`). Kept in memory on purpose: sessionStorage is copied
// when a tab is duplicated, which would make two tabs share an id and let closing one end the other's presence.
let id: string | undefined;

export function tabId(): string {
  id ??= randomUUID();
  return id;
}

// crypto.randomUUID exists only in secure contexts (https, localhost); an app reached over plain http on a LAN
// address gets the same version-4 UUID from getRandomValues, which every context has.
function randomUUID(): string {
  if (typeof crypto.randomUUID === 'function') return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6]! & 0x0f) | 0x40;
  b[8] = (b[8]! & 0x3f) | 0x80;
  const hex = [...b].map((x) => x.toString(16).padStart(2, '0')).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
