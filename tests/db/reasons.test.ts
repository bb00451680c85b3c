// A tenant's reasons: added last in their status's order, renamed, reordered, retired and restored, with clear
// errors for a bad label, a duplicate, the limit and another tenant's reason; a refused call changes nothing.
import { afterAll, describe, expect, it } from 'vitest';
import { createTenant, testPool } from '../helpers/db.ts';

const db = testPool();
afterAll(() => db.end());

interface Reason {
  id: string;
  status: string;
  label: string;
  position: number;
  default_duration_s: number | null;
  retired: boolean;
}

async function add(tenant: string, status: string, label: string, durationS: number | null = null): Promise<Reason> {
  const { rows } = await db.query<Reason>('select * from presence.add_reason($1, $2, $3, $4)', [tenant, status, label, durationS]);
  return rows[0]!;
}

async function reasonsOf(tenant: string): Promise<Array<Omit<Reason, 'id'>>> {
  const { rows } = await db.query<Reason>(
    'select status, label, position, default_duration_s, retired from presence.reasons where tenant_id = $1 order by status, position',
    [tenant],
  );
  return rows;
}

async function failure(sql: string, params: unknown[]): Promise<{ code: string; message: string }> {
  const error = await db.query(sql, params).then(
    () => null,
    (e: { code: string; message: string }) => e,
  );
  expect(error, `${sql} should fail`).not.toBeNull();
  return { code: error!.code, message: error!.message };
}

describe('a tenant\'s reasons', () => {
  it('are added last in their status, renamed, reordered and retired, and the list says so', async () => {
    // Setup
    const tenant = await createTenant(db);
    const lunch = await add(tenant, 'away', 'Lunch', 3600);
    const meeting = await add(tenant, 'away', 'Meeting');
    const training = await add(tenant, 'away', 'Training');
    await add(tenant, 'dnd', 'Focus');

    // Action
    await db.query('select presence.update_reason($1, $2, p_label => $3)', [tenant, meeting.id, 'Team meeting']);
    await db.query('select presence.update_reason($1, $2, p_position => 0)', [tenant, training.id]);
    await db.query('select presence.update_reason($1, $2, p_retired => true)', [tenant, lunch.id]);
    await db.query('select presence.update_reason($1, $2, p_clear_default_duration => true)', [tenant, lunch.id]);

    // Assertions
    expect(lunch).toMatchObject({ status: 'away', label: 'Lunch', position: 0, default_duration_s: 3600, retired: false });
    expect(await reasonsOf(tenant)).toEqual([
      { status: 'away', label: 'Training', position: 0, default_duration_s: null, retired: false },
      { status: 'away', label: 'Lunch', position: 1, default_duration_s: null, retired: true },
      { status: 'away', label: 'Team meeting', position: 2, default_duration_s: null, retired: false },
      { status: 'dnd', label: 'Focus', position: 0, default_duration_s: null, retired: false },
    ]);
  });

  it('a retired label may be used again, and restoring the old one then is a conflict', async () => {
    // Setup
    const tenant = await createTenant(db);
    const old = await add(tenant, 'offline', 'End of shift');
    await db.query('select presence.update_reason($1, $2, p_retired => true)', [tenant, old.id]);

    // Action
    const again = await add(tenant, 'offline', 'end of shift');
    const restore = await failure('select presence.update_reason($1, $2, p_retired => false)', [tenant, old.id]);

    // Assertions
    expect(again.label).toBe('end of shift');
    expect(restore.code).toBe('PRRDU');
    expect(restore.message).toContain('End of shift');
  });

  it('refuses a blank, long or duplicate label, a duration out of range, an unknown status, and writes nothing', async () => {
    // Setup
    const tenant = await createTenant(db);
    await add(tenant, 'away', 'Lunch');

    // Action
    const blank = await failure('select presence.add_reason($1, $2, $3)', [tenant, 'away', '   ']);
    const long = await failure('select presence.add_reason($1, $2, $3)', [tenant, 'away', 'x'.repeat(41)]);
    const duplicate = await failure('select presence.add_reason($1, $2, $3)', [tenant, 'away', ' lunch ']);
    const short = await failure('select presence.add_reason($1, $2, $3, $4)', [tenant, 'away', 'Coffee', 59]);
    const status = await failure('select presence.add_reason($1, $2, $3)', [tenant, 'busy', 'Coffee']);

    // Assertions
    expect(blank).toMatchObject({ code: 'PRRIN', message: 'label must not be blank' });
    expect(long).toMatchObject({ code: 'PRRIN', message: 'label must be at most 40 characters, got 41' });
    expect(duplicate).toMatchObject({ code: 'PRRDU', message: 'a live away reason is already labelled "lunch"' });
    expect(short.code).toBe('PRRIN');
    expect(short.message).toContain('got 59');
    expect(status.code).toBe('PRSTA');
    expect(await reasonsOf(tenant)).toHaveLength(1);
  });

  it('stops at 50 reasons per tenant', async () => {
    // Setup
    const tenant = await createTenant(db);
    for (let i = 0; i < 50; i++) await add(tenant, 'away', `Reason ${i}`);

    // Action
    const more = await failure('select presence.add_reason($1, $2, $3)', [tenant, 'dnd', 'One more']);

    // Assertions
    expect(more.code).toBe('PRRLM');
    expect(more.message).toContain('at most 50');
  });

  it('never changes another tenant\'s reason: the same answer as an unknown one', async () => {
    // Setup
    const mine = await createTenant(db);
    const theirs = await createTenant(db);
    const focus = await add(theirs, 'dnd', 'Focus');

    // Action
    const other = await failure('select presence.update_reason($1, $2, p_label => $3)', [mine, focus.id, 'Mine']);
    const unknown = await failure('select presence.update_reason($1, gen_random_uuid(), p_label => $2)', [mine, 'Mine']);

    // Assertions
    expect(other.code).toBe('PRRNF');
    expect(unknown.code).toBe('PRRNF');
    expect(await reasonsOf(theirs)).toEqual([{ status: 'dnd', label: 'Focus', position: 0, default_duration_s: null, retired: false }]);
  });
});
