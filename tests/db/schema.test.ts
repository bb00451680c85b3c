// db/schema.sql and the table of objects in db/README.md are generated (npm run db:schema): this test generates them
// again, from a database of its own on the test cluster migrated afresh, and fails when the committed files differ.
// Other test files' tenants, logins and sweeps never reach that database. It also checks the registry of SQLSTATEs
// in db/README.md against the migrations and the server's mapping.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, inject, it, onTestFinished } from 'vitest';
import { migrate, MIGRATIONS_DIR } from '../../db/migrate.ts';
import { describeError } from '../../server/http/errors.ts';
import { scratchDatabase } from '../helpers/db.ts';
import {
  dumpSchema,
  generateSchema,
  keyed,
  normaliseDump,
  README_FILE,
  renderObjects,
  SCHEMA_FILE,
  withObjectsTable,
  type Generated,
} from '../../db/schema.ts';

const STALE = 'stale: run `npm run db:schema` and commit what it writes, in the same commit as the migration';

describe('the live schema', () => {
  let generated: Generated;

  beforeAll(async () => {
    generated = await generateSchema(inject('databaseUrl'));
  }, 180_000);

  it('db/schema.sql is what the migrations make of an empty database', () => {
    // Setup
    const committed = readFileSync(SCHEMA_FILE, 'utf8');

    // Action
    const current = generated.schemaSql;

    // Assertions
    expect(committed, `db/schema.sql is ${STALE}`).toBe(current);
  });

  it('is the same for an install migrated in one transaction as for one upgraded migration by migration', async () => {
    // Setup
    const fresh = await scratchDatabase('schema_fresh');
    onTestFinished(() => fresh.drop());
    await migrate(fresh.url);

    // Action
    const dumped = await dumpSchema(fresh.url);

    // Assertions
    expect(dumped).toBe(generated.schemaSql);
  }, 120_000);

  it("db/README.md's table says which migrations made and changed each live object", () => {
    // Setup
    const committed = readFileSync(README_FILE, 'utf8');

    // Action
    const current = withObjectsTable(committed, generated.objectsTable);

    // Assertions
    expect(committed, `the table of objects in db/README.md is ${STALE}`).toBe(current);
    expect(generated.objectsTable).toContain('| `presence.heartbeat(tenant_key, agent_key, text, text, text)` | function |');
  });

  it("holds presence's schemas and the platform's tables, not graphile-worker's, pg_cron's or the migrations' bookkeeping", () => {
    // Setup
    const sql = generated.schemaSql;

    // Action
    const created = [...sql.matchAll(/^CREATE (?:SCHEMA|TABLE|EXTENSION IF NOT EXISTS) ([\w.]+)/gm)].map((m) => m[1]);

    // Assertions
    expect(created).toEqual(expect.arrayContaining(['presence', 'presence_private', 'presence_accounts', 'public.tenants', 'public.human_agents']));
    expect(created.filter((name) => /^(graphile_worker|cron|presence_migrations)(\.|$)|^pg_cron$/.test(name!))).toEqual([]);
  });

  it('carries no owner, version, session settings or restrict keys', () => {
    // Setup
    const lines = generated.schemaSql.split('\n');

    // Action
    const noise = lines.filter((l) => /^(-- Dumped|SET |SELECT pg_catalog\.set_config|\\(un)?restrict)|OWNER TO|Owner:/.test(l));

    // Assertions
    expect(noise).toEqual([]);
    expect(generated.schemaSql).not.toMatch(/\n\n\n/);
  });
});

describe('normalising a dump', () => {
  it("keeps grants to presence's roles, PUBLIC and the migrating role, and leaves out other roles' and the version noise", () => {
    // Setup
    const dump = [
      '--',
      '-- PostgreSQL database dump',
      '--',
      '',
      '\\restrict AbC123',
      '',
      '-- Dumped from database version 15.20',
      '-- Dumped by pg_dump version 15.20',
      '',
      'SET statement_timeout = 0;',
      "SELECT pg_catalog.set_config('search_path', '', false);",
      '',
      '--',
      '-- Name: heartbeat(uuid); Type: FUNCTION; Schema: presence; Owner: -',
      '--',
      '',
      'CREATE FUNCTION presence.heartbeat(p_agent uuid) RETURNS void',
      '    LANGUAGE sql',
      '    AS $$',
      'select 1',
      '',
      '',
      '',
      '$$;',
      '',
      '',
      "SET default_tablespace = '';",
      '',
      '--',
      '-- Name: FUNCTION heartbeat(p_agent uuid); Type: ACL; Schema: presence; Owner: -',
      '--',
      '',
      'REVOKE ALL ON FUNCTION presence.heartbeat(p_agent uuid) FROM PUBLIC;',
      'GRANT ALL ON FUNCTION presence.heartbeat(p_agent uuid) TO presence_app;',
      'GRANT ALL ON FUNCTION presence.heartbeat(p_agent uuid) TO "Jane Owner";',
      'GRANT ALL ON FUNCTION presence.heartbeat(p_agent uuid) TO test_login_4f2a;',
      '',
      '',
      '--',
      '-- Name: TABLE tenants; Type: ACL; Schema: public; Owner: -',
      '--',
      '',
      'GRANT SELECT ON TABLE public.tenants TO test_login_4f2a;',
      '',
      '',
      '--',
      '-- Name: DEFAULT PRIVILEGES FOR FUNCTIONS; Type: DEFAULT ACL; Schema: -; Owner: -',
      '--',
      '',
      'ALTER DEFAULT PRIVILEGES FOR ROLE "Jane Owner" REVOKE ALL ON FUNCTIONS  FROM PUBLIC;',
      '',
      '',
      '--',
      '-- PostgreSQL database dump complete',
      '--',
      '',
      '\\unrestrict AbC123',
      '',
    ].join('\n');

    // Action
    const entries = normaliseDump(dump, 'Jane Owner');

    // Assertions
    expect(entries).toEqual([
      {
        name: 'heartbeat(uuid)',
        type: 'FUNCTION',
        schema: 'presence',
        sql: 'CREATE FUNCTION presence.heartbeat(p_agent uuid) RETURNS void\n    LANGUAGE sql\n    AS $$\nselect 1\n\n$$;',
      },
      {
        name: 'FUNCTION heartbeat(p_agent uuid)',
        type: 'ACL',
        schema: 'presence',
        sql: [
          'REVOKE ALL ON FUNCTION presence.heartbeat(p_agent uuid) FROM PUBLIC;',
          'GRANT ALL ON FUNCTION presence.heartbeat(p_agent uuid) TO presence_app;',
          'GRANT ALL ON FUNCTION presence.heartbeat(p_agent uuid) TO CURRENT_USER;',
        ].join('\n'),
      },
      {
        name: 'DEFAULT PRIVILEGES FOR FUNCTIONS',
        type: 'DEFAULT ACL',
        schema: '-',
        sql: 'ALTER DEFAULT PRIVILEGES REVOKE ALL ON FUNCTIONS  FROM PUBLIC;',
      },
    ]);
  });
});

describe('the SQLSTATE registry in db/README.md', () => {
  const registry = () =>
    [...readFileSync(README_FILE, 'utf8').matchAll(/^\| `(PR[A-Z0-9]{3})` \| ([^|]*) \| ([^|]*) \|/gm)].map((m) => ({
      code: m[1]!,
      retired: m[2]!.startsWith('retired'),
      http: m[3]!,
    }));

  it('lists every code the migrations raise, and no code in the live schema as retired', () => {
    // Setup
    const migrations = readdirSync(MIGRATIONS_DIR)
      .filter((f) => f.endsWith('.sql'))
      .map((f) => readFileSync(join(MIGRATIONS_DIR, f), 'utf8'))
      .join('\n');
    const raised = (sql: string) => new Set([...sql.matchAll(/errcode = '(PR[A-Z0-9]{3})'/gi)].map((m) => m[1]!));

    // Action
    const listed = registry();

    // Assertions
    const unlisted = [...raised(migrations)].filter((code) => !listed.some((r) => r.code === code));
    expect(unlisted, 'codes raised in db/migrations but missing from the registry in db/README.md').toEqual([]);
    const live = [...raised(readFileSync(SCHEMA_FILE, 'utf8'))];
    expect(live.length).toBeGreaterThan(5);
    expect(listed.filter((r) => r.retired && live.includes(r.code))).toEqual([]);
  });

  it('gives each code the HTTP status the server answers with', () => {
    // Setup
    const withStatus = registry().filter((r) => /^\d{3}\b/.test(r.http));

    // Action
    const answered = withStatus.map((r) => ({ code: r.code, status: describeError({ code: r.code, message: 'x' }).status }));

    // Assertions
    expect(withStatus.length).toBeGreaterThan(5);
    expect(answered).toEqual(withStatus.map((r) => ({ code: r.code, status: Number(r.http.slice(0, 3)) })));
  });
});

describe('the table of objects', () => {
  const fn = (args: string, sql: string) => ({ name: `f(${args})`, type: 'FUNCTION', schema: 'presence', sql });
  const comment = (sql: string) => ({ name: 'FUNCTION f(p_id presence.tenant_key)', type: 'COMMENT', schema: 'presence', sql });
  const grant = (sql: string) => ({ name: 'FUNCTION f(p_id presence.tenant_key)', type: 'ACL', schema: 'presence', sql });
  const schema = { name: 'presence', type: 'SCHEMA', schema: '-', sql: 'CREATE SCHEMA presence;' };

  it('names the migration that made each object and those that changed it, with the parts they changed', () => {
    // Setup
    const steps = [
      { migration: '0001_make', entries: keyed([schema, fn('uuid', 'v1'), { ...comment('c1'), name: 'FUNCTION f(p_id uuid)' }]) },
      { migration: '0002_keys', entries: keyed([schema, fn('presence.tenant_key', 'v2'), comment('c2')]) },
      { migration: '0003_grants', entries: keyed([schema, fn('presence.tenant_key', 'v2'), comment('c2'), grant('g')]) },
      { migration: '0004_body', entries: keyed([schema, fn('presence.tenant_key', 'v3'), comment('c3'), grant('g')]) },
    ];

    // Action
    const rows = renderObjects(steps).split('\n').slice(2);

    // Assertions
    expect(rows).toEqual([
      '| `presence` | schema | `0001_make` |  |',
      '| `presence.f(tenant_key)` | function | `0002_keys` | `0003_grants` (grants), `0004_body` |',
    ]);
  });

  it('marks a migration that drops an object a later one makes again', () => {
    // Setup
    const view = { name: 'v', type: 'VIEW', schema: 'presence', sql: 'CREATE VIEW presence.v AS SELECT 1;' };
    const steps = [
      { migration: '0001_make', entries: keyed([schema, view]) },
      { migration: '0002_drop', entries: keyed([schema]) },
      { migration: '0003_again', entries: keyed([schema, { ...view, sql: 'CREATE VIEW presence.v AS SELECT 2;' }]) },
    ];

    // Action
    const rows = renderObjects(steps).split('\n').slice(2);

    // Assertions
    expect(rows).toContain('| `presence.v` | view | `0001_make` | `0002_drop` (dropped), `0003_again` |');
  });
});
