// npm run db:migrate | db:start | db:stop: the database side of the project, without the server.
import { parseArgs } from 'node:util';
import { databaseSettings, localClusterDir, openDatabase, stopLocalCluster } from './database.ts';
import { describeSweep, migrate } from './migrate.ts';

const usage = 'usage: tsx db/cli.ts <migrate|start|stop>';

async function main(): Promise<void> {
  const { positionals } = parseArgs({ allowPositionals: true, strict: true });
  const settings = databaseSettings();
  switch (positionals[0]) {
    case 'migrate': {
      const db = await openDatabase({ ...settings, mode: 'use' });
      console.log(`database: ${db.description}`);
      const applied = await migrate(db.url);
      console.log(applied.length ? `applied ${applied.join(', ')}` : 'no migrations to run: the schema is current');
      console.log(`sweep: ${await describeSweep(db.url)}`);
      break;
    }
    case 'start': {
      // The URL carries the owner's password: printed for the developer who asked for it, never logged elsewhere.
      const db = await openDatabase({ ...settings, mode: 'keep' });
      console.log(`database: ${db.description}\nDATABASE_URL=${db.url}`);
      break;
    }
    case 'stop': {
      const dataDir = localClusterDir(settings.dataDir);
      const stopped = await stopLocalCluster(settings.dataDir);
      console.log(stopped ? `stopped the local cluster in ${dataDir}` : `no cluster runs in ${dataDir}`);
      break;
    }
    default:
      throw new Error(`${positionals[0] ? `unknown command ${positionals[0]}; ` : ''}${usage}`);
  }
}

main().catch((error: unknown) => {
  const hint = (error as { hint?: unknown }).hint;
  console.error(error instanceof Error ? error.message : error);
  if (typeof hint === 'string') console.error(`  ${hint}`);
  process.exitCode = 1;
});
