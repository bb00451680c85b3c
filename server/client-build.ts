// Serves the browser client from client/dist; builds it first (npm run build) when its build is missing or
// older than its sources.
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { projectRoot } from './config.ts';

const clientRoot = join(projectRoot, 'client');
export const clientDist = join(clientRoot, 'dist');

function newestMtime(path: string): number {
  if (!existsSync(path)) return 0;
  const stat = statSync(path);
  if (!stat.isDirectory()) return stat.mtimeMs;
  return Math.max(stat.mtimeMs, ...readdirSync(path).map((name) => newestMtime(join(path, name))));
}

/** Returns the folder to serve, or null when the project has no client. */
export async function prepareClient(logger: Logger): Promise<string | null> {
  if (!existsSync(join(clientRoot, 'index.html'))) return null;
  const built = existsSync(join(clientDist, 'index.html')) ? newestMtime(clientDist) : 0;
  const sources = Math.max(
    ...['index.html', 'src', 'public', 'vite.config.ts'].map((name) => newestMtime(join(clientRoot, name))),
    // The API types the client shares with the server.
    newestMtime(join(projectRoot, 'server', 'http', 'contract.ts')),
  );
  if (built === 0 || sources > built) {
    logger.info(built === 0 ? 'building the client (npm run build)' : 'client sources changed: rebuilding it');
    const code = await new Promise<number | null>((resolve, reject) => {
      const child = spawn('npm', ['run', 'build', '--silent'], { cwd: projectRoot, stdio: 'inherit' });
      child.on('error', reject);
      child.on('exit', resolve);
    });
    if (code !== 0) throw new Error(`npm run build failed with exit code ${code}`);
  }
  return clientDist;
}
