// The demo tenant that `npm start` creates on first run: fictional people at example.com. One agent, Jordan,
// is stuck `available` from a browser that vanished two hours ago with 2 of 5 chats: the original bug. The first
// sweep takes Jordan offline (reason timeout), recorded at the moment Jordan went silent plus offline_after_s, and,
// Jordan having been offline far longer than the tenant's release_chats_after_s, returns both chats to the queue.
import { inTransaction, withClient } from '../db/client.ts';
import { writeAgentPast } from '../db/sql/agent-past.ts';
import { createAccount } from '../db/sql/create-account.ts';
import { createTenant, tenantNamed } from '../db/sql/create-tenant.ts';
import { openChat } from '../db/sql/open-chat.ts';
import { Database } from './database/handle.ts';

export const DEMO_TENANT = 'Demo Support (example.com)';
export const DEMO_PASSWORD = 'demo-password';

const PEOPLE = [
  { email: 'alex.admin@example.com', name: 'Alex Admin', role: 'client_admin' },
  { email: 'sam.rivera@example.com', name: 'Sam Rivera', role: 'support_staff' },
  { email: 'priya.patel@example.com', name: 'Priya Patel', role: 'support_staff' },
  { email: 'jordan.lee@example.com', name: 'Jordan Lee', role: 'support_staff' },
  { email: 'chen.wu@example.com', name: 'Chen Wu', role: 'support_staff' },
  { email: 'morgan.supervisor@example.com', name: 'Morgan Supervisor', role: 'supervisor' },
] as const;

const STUCK = 'jordan.lee@example.com';

export interface DemoSignIn {
  email: string;
  name: string;
  role: string;
}

/** Seeds the demo tenant unless it exists; returns its sign-ins (and whether it was created now). */
export async function seedDemo(ownerUrl: string): Promise<{ created: boolean; signIns: DemoSignIn[] }> {
  const signIns = PEOPLE.map(({ email, name, role }) => ({ email, name, role }));
  return withClient(ownerUrl, async (client) => {
    const db = new Database(client);
    if (await tenantNamed(db, DEMO_TENANT)) return { created: false, signIns };
    await inTransaction(client, async () => {
      const tenantId = await createTenant(db, DEMO_TENANT);
      const agents = new Map<string, string>();
      for (const person of PEOPLE) {
        const { agentId } = await createAccount(db, { tenantId, ...person, password: DEMO_PASSWORD, maxChats: 5 });
        if (agentId) agents.set(person.email, agentId);
      }
      for (let i = 0; i < 5; i++) await openChat(db, tenantId);
      // Jordan came online 2 h 2 min ago, took the two oldest chats, and the browser vanished without a goodbye after
      // its last beat 2 h ago.
      await writeAgentPast(db, {
        tenantId,
        agentId: agents.get(STUCK)!,
        onlineForS: 2 * 3600 + 2 * 60,
        silentForS: 2 * 3600,
        status: 'available',
        tab: 'demo-browser-of-jordan',
        signIn: null,
        chats: 2,
      });
    });
    return { created: true, signIns };
  });
}
