// The demo tenant that `npm start` creates on first run: fictional people at example.com. One agent, Jordan,
// is stuck `available` from a browser that vanished two hours ago with 2 of 5 chats: the original bug. The first
// sweep takes Jordan offline (reason timeout), recorded at the moment Jordan went silent plus offline_after_s, and,
// Jordan having been offline far longer than the tenant's release_chats_after_s, returns both chats to the queue.
// The team has the reasons of a support desk (away: Lunch, Meeting, Training; dnd: Focus; offline: End of shift) and
// a working day behind it, so the console is full at the first start: arrivals, lunches that ended by themselves,
// Focus time, idle spells, a supervisor (Morgan) sending Priya to Training and calling Chen out of Focus, and the
// ways a day ends (signing out, a tab closed, a timeout).
import { inTransaction, withClient } from '../db/client.ts';
import { writeAgentDay, type PastTransition } from '../db/sql/agent-day.ts';
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

/** The demo team's reasons: status, label, default length in seconds. */
const REASONS = [
  ['away', 'Lunch', 1800],
  ['away', 'Meeting', null],
  ['away', 'Training', null],
  ['dnd', 'Focus', 3600],
  ['offline', 'End of shift', null],
] as const;
type ReasonLabel = (typeof REASONS)[number][1];

/** One transition of the demo's day: minutes ago, to, chosen after, mechanism, reason, who (by email). */
type Step = [minutesAgo: number, to: PastTransition['to'], chosen: PastTransition['chosen'], mechanism: PastTransition['mechanism'], reason?: ReasonLabel | null, by?: string];

const MORGAN = 'morgan.supervisor@example.com';
const DAY: Record<string, Step[]> = {
  'alex.admin@example.com': [
    [430, 'available', 'available', 'heartbeat'],
    [300, 'away', 'away', 'manual', 'Meeting'],
    [240, 'available', 'available', 'manual'],
    [125, 'offline', 'available', 'logout'],
  ],
  'sam.rivera@example.com': [
    [540, 'available', 'available', 'heartbeat'],
    [420, 'away', 'away', 'manual', 'Meeting'],
    [385, 'available', 'available', 'manual'],
    [300, 'away', 'away', 'manual', 'Lunch'],
    [270, 'available', 'available', 'expiry'],
    [205, 'away', 'available', 'idle'],
    [196, 'available', 'available', 'active'],
    [62, 'offline', 'available', 'logout'],
  ],
  'priya.patel@example.com': [
    [505, 'available', 'available', 'heartbeat'],
    [450, 'dnd', 'dnd', 'manual', 'Focus'],
    [390, 'available', 'available', 'expiry'],
    [330, 'away', 'away', 'manual', 'Lunch'],
    [300, 'available', 'available', 'expiry'],
    [245, 'away', 'away', 'supervisor', 'Training', MORGAN],
    [185, 'available', 'available', 'manual'],
    [48, 'offline', 'available', 'left'],
  ],
  'chen.wu@example.com': [
    [480, 'available', 'available', 'heartbeat'],
    [360, 'away', 'away', 'manual', 'Lunch'],
    [330, 'available', 'available', 'expiry'],
    [255, 'dnd', 'dnd', 'manual', 'Focus'],
    [232, 'available', 'available', 'supervisor', null, MORGAN],
    [95, 'offline', 'available', 'timeout'],
  ],
  // Jordan's morning, before the browser that vanished (writeAgentPast below).
  'jordan.lee@example.com': [
    [520, 'available', 'available', 'heartbeat'],
    [400, 'away', 'away', 'manual', 'Lunch'],
    [370, 'available', 'available', 'expiry'],
    [250, 'offline', 'available', 'logout'],
  ],
};

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
      const people = new Map<string, { id: string; name: string }>();
      for (const person of PEOPLE) {
        const { userId, agentId } = await createAccount(db, { tenantId, ...person, password: DEMO_PASSWORD, maxChats: 5 });
        people.set(person.email, { id: userId, name: person.name });
        if (agentId) agents.set(person.email, agentId);
      }
      const reasons = new Map<string, string>();
      for (const [status, label, defaultS] of REASONS) {
        reasons.set(label, await addReason(db, tenantId, status, label, defaultS));
      }
      for (const [email, steps] of Object.entries(DAY)) {
        await writeAgentDay(
          db,
          tenantId,
          agents.get(email)!,
          steps.map(([minutesAgo, to, chosen, mechanism, reason, by]) => ({
            agoS: minutesAgo * 60,
            to,
            chosen,
            mechanism,
            reasonId: reason ? reasons.get(reason)! : null,
            // The person who chose: the agent for its own choices, Morgan for a supervisor's; nobody for the rest.
            actor: by ? people.get(by)! : mechanism === 'manual' || mechanism === 'logout' ? people.get(email)! : null,
          })),
        );
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

async function addReason(db: Database, tenantId: string, status: string, label: string, defaultS: number | null): Promise<string> {
  const { rows } = await db.query<{ id: string }>('select id from presence.add_reason($1, $2, $3, $4)', [tenantId, status, label, defaultS]);
  return rows[0]!.id;
}
