// One run of the soak or of a scenario: its database, its server, its people signed in and its supervisors' streams.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDatabase, type Database } from './database.ts';
import { log, type Options } from './options.ts';
import { inParallel, seed, signIn, type Person } from './people.ts';
import { ServerProcess } from './server.ts';
import { StreamClient } from './streams.ts';

export interface Harness {
  o: Options;
  dir: string;
  db: Database;
  server: ServerProcess;
  base: () => string;
  agents: Person[];
  supervisors: Person[];
  tenants: string[];
  streams: StreamClient[];
  close(): Promise<void>;
}

export async function harness(o: Options, releaseChatsAfterS?: number): Promise<Harness> {
  const dir = mkdtempSync(join(tmpdir(), 'presence-soak-'));
  log(`cluster and migrations in ${dir}`);
  const db = await openDatabase(dir);
  const people = await seed(db, o, releaseChatsAfterS);
  const server = new ServerProcess(db.cluster.url, join(dir, 'server.log'));
  await server.start();
  const base = () => `http://127.0.0.1:${server.port}`;
  log(`server pid ${server.pid} on ${base()}; signing in ${people.agents.length} agents and ${people.supervisors.length} supervisors`);
  await inParallel([...people.agents, ...people.supervisors], 16, async (p) => {
    const { cookie } = await signIn(base(), p.email);
    if (!cookie) throw new Error(`sign-in of ${p.email} failed`);
    p.cookie = cookie;
  });
  const streams = people.supervisors.map((s) => new StreamClient(base, s.cookie));
  for (const s of streams) s.start();
  return {
    o,
    dir,
    db,
    server,
    base,
    ...people,
    streams,
    async close() {
      for (const s of streams) s.stop();
      await server.stop();
      await db.stop();
      if (!process.env.SOAK_KEEP) rmSync(dir, { recursive: true, force: true });
    },
  };
}
