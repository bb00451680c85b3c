// This process's serving: the services (pool, batchers, one LISTEN connection) and the app on HOST:PORT. npm start
// calls it once, or each serving process does (server/serve/processes.ts) with its number for the answers.
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { SetupError } from '../../db/database.ts';
import { makeApp } from '../app.ts';
import type { Config } from '../config.ts';
import { createServices } from '../services.ts';

/** The answer header that names the serving process (1..N, as node:cluster numbers them) when there are several. */
export const PROCESS_HEADER = 'X-Presence-Process';

/** The HTTP side of npm start: this process, or the serving processes. */
export interface Serving {
  address: AddressInfo;
  /**
   * Ends the live streams (browsers reconnect) and stops taking connections at once; resolves when every serving
   * process has answered what it had, and closed its LISTEN connection and pool.
   */
  close(): Promise<void>;
}

/** Listens on host:port; a port in use (or a host not of this machine) is one line for the operator. */
async function listen(server: Server, port: number, host: string | undefined): Promise<void> {
  server.listen(port, host);
  try {
    await once(server, 'listening');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE') throw new SetupError(`port ${port} is in use: set PORT to a free port`);
    if (code === 'EADDRNOTAVAIL') throw new SetupError(`HOST ${host} is not an address of this machine: set HOST to one`);
    if (code === 'EACCES') throw new SetupError(`port ${port} needs privileges this user lacks: set PORT above 1023`);
    throw error;
  }
}

/** The URL to print for an address the server listens on (localhost when HOST is unset). */
export function serverUrl(address: AddressInfo, host: string | undefined): string {
  const shown = host === undefined ? 'localhost' : address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return `http://${shown}:${address.port}`;
}

/** The app in this process; `processId` names it in every answer (a serving process of several). */
export async function serveHere(
  config: Config,
  appDatabaseUrl: string,
  logger: Logger,
  clientDir: string | null,
  processId?: string,
): Promise<Serving> {
  const services = createServices(config, appDatabaseUrl, logger, { clientDir });
  const app = makeApp(services);
  const server: Server = createServer(
    processId === undefined
      ? app
      : (req, res) => {
          res.setHeader(PROCESS_HEADER, processId);
          app(req, res);
        },
  );
  try {
    await listen(server, config.port, config.host);
  } catch (error) {
    await services.close().catch(() => {});
    throw error;
  }
  return {
    address: server.address() as AddressInfo,
    async close() {
      services.presence.streams.close();
      server.closeIdleConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await services.close();
    },
  };
}
