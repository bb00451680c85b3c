// Sign-in time of a wrong password for a known e-mail against an unknown e-mail.
import { randomUUID } from 'node:crypto';
import { quantile, round } from '../../stats.ts';
import { harness } from '../harness.ts';
import { PASSWORD, type Options } from '../options.ts';
import { signIn } from '../people.ts';

export async function timingScenario(o: Options) {
  const h = await harness({ ...o, agents: 10, tenants: 1, supervisors: 1 });
  try {
    // Production's cost: the decoy for an unknown e-mail follows the policy's cost.
    await h.db.owner.query('select presence_accounts.configure_sign_in(p_bcrypt_cost => 10)');
    const tenant = h.tenants[0]!;
    const email = `timing-${randomUUID()}@soak.example`;
    await h.db.owner.query(`select presence_accounts.create_account($1, $2, 'Timing', 'support_staff', $3)`, [tenant, email, PASSWORD]);
    const wrong: number[] = [];
    const unknown: number[] = [];
    const address = () => `10.${Math.floor(Math.random() * 250)}.${Math.floor(Math.random() * 250)}.${Math.floor(Math.random() * 250)}`;
    for (let i = 0; i < 150; i++) {
      const w = await signIn(h.base(), email, `wrong-${i}-password`, address());
      const u = await signIn(h.base(), `nobody-${randomUUID()}@soak.example`, `wrong-${i}-password`, address());
      if (i >= 10) {
        if (w.status === 401) wrong.push(w.ms);
        if (u.status === 401) unknown.push(u.ms);
      }
    }
    const stats = (xs: number[]) => ({ n: xs.length, p10: round(quantile(xs, 0.1)), p50: round(quantile(xs, 0.5)), p90: round(quantile(xs, 0.9)), mean: round(xs.reduce((a, b) => a + b, 0) / xs.length) });
    return {
      scenario: 'sign-in time, wrong password of a known e-mail against an unknown e-mail (bcrypt cost 10, each from an address of its own, interleaved, 10 warm-up pairs dropped)',
      wrong_password_ms: stats(wrong),
      unknown_email_ms: stats(unknown),
      median_difference_ms: round(quantile(wrong, 0.5) - quantile(unknown, 0.5)),
    };
  } finally {
    await h.close();
  }
}
