// One presence session per tab and page load. Kept in memory on purpose: sessionStorage is copied when a tab is
// duplicated, which would make two tabs share a session and let closing one end the other's presence.
let sessionId: string | undefined;

export function tabSessionId(): string {
  sessionId ??= crypto.randomUUID();
  return sessionId;
}
