#!/usr/bin/env node
// `presence`, the operator CLI. In a clone of the repository (tsx installed) it runs the TypeScript as it is, so the
// CLI never lags the source; a platform that installed the package has no tsx and runs the build under dist/ (npm's
// prepare makes it).
const tsx = await import('tsx/esm/api').catch(() => null);
if (tsx) {
  tsx.register();
  await import('./presence.ts');
} else {
  await import('../../dist/server/cli/presence.js');
}
