// A migration that has landed is never edited: db/landed-migrations.sha256 lists every landed file with its
// SHA-256, and this test fails when one changes, disappears, or a new file sorts before a landed one (an install
// that already ran the landed files would never run it). A new migration is added to the list when it lands.
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { projectRoot } from '../../server/config.ts';

const migrationsDir = join(projectRoot, 'db', 'migrations');

function landed(): Map<string, string> {
  const list = readFileSync(join(projectRoot, 'db', 'landed-migrations.sha256'), 'utf8');
  return new Map(
    list
      .split('\n')
      .filter((line) => line.trim() !== '')
      .map((line) => {
        const match = /^([0-9a-f]{64}) {2}(\S+)$/.exec(line);
        if (!match) throw new Error(`db/landed-migrations.sha256: not a "sha256  file" line: ${line}`);
        return [match[2]!, match[1]!] as const;
      }),
  );
}

describe('the migrations listed in db/landed-migrations.sha256', () => {
  it('are byte for byte the files whose checksums it lists', () => {
    // Setup
    const expected = landed();

    // Action
    const actual = new Map(
      [...expected.keys()].map((file) => {
        try {
          return [file, createHash('sha256').update(readFileSync(join(migrationsDir, file))).digest('hex')];
        } catch {
          return [file, 'missing'];
        }
      }),
    );

    // Assertions
    expect(Object.fromEntries(actual)).toEqual(Object.fromEntries(expected));
  });

  it('sort before every migration it does not list', () => {
    // Setup
    const listed = [...landed().keys()].sort();
    const files = readdirSync(migrationsDir).filter((f) => f.endsWith('.sql')).sort();

    // Action
    const newer = files.filter((f) => !listed.includes(f));

    // Assertions
    expect(files.slice(0, listed.length)).toEqual(listed);
    for (const file of newer) expect(file > listed.at(-1)!, file).toBe(true);
  });
});
