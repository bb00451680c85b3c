// The soak's load: the agents' beats (autocannon, open loop) and the churn of sign-outs, sign-ins and wrong passwords.
import { randomUUID } from 'node:crypto';
import autocannon from 'autocannon';
import { signIn, signOut, type Person } from './people.ts';

export interface Beat {
  at: number;
  status: number;
  ms: number;
}

/**
 * The beats: every agent once per heartbeat interval, round robin, at a fixed overall rate (autocannon, 40
 * connections, so a slow answer does not slow the others). Records each answer, and each agent's last
 * acknowledged beat (its lastSeen by the database clock), to check later that the database kept it.
 */
export class BeatLoad {
  readonly answers: Beat[] = [];
  errors: Array<{ at: number; message: string }> = [];
  readonly acked = new Map<string, number>();
  private next = 0;
  private instance: autocannon.Instance | null = null;

  constructor(
    private readonly base: () => string,
    private readonly agents: Person[],
    private readonly rate: number,
  ) {}

  start(durationS: number): Promise<autocannon.Result> {
    const agents = this.agents;
    let finish: (result: autocannon.Result) => void = () => {};
    let fail: (error: unknown) => void = () => {};
    const finished = new Promise<autocannon.Result>((resolve, reject) => {
      finish = resolve;
      fail = reject;
    });
    const instance = autocannon(
      {
      url: this.base(),
      connections: Math.min(40, Math.max(1, Math.floor(this.rate))),
      overallRate: Math.max(1, Math.round(this.rate)),
      duration: durationS,
      timeout: 10,
      requests: [
        {
          method: 'POST',
          path: '/api/auth/heartbeat',
          setupRequest: (req, context) => {
            let agent = agents[this.next++ % agents.length]!;
            for (let i = 0; agent.busy && i < 10; i++) agent = agents[this.next++ % agents.length]!;
            (context as { agent?: string | null }).agent = agent.agentId;
            return {
              ...req,
              headers: { 'content-type': 'application/json', cookie: agent.cookie },
              body: JSON.stringify({ sessionId: agent.tab }),
            };
          },
          onResponse: (status, body, context) => {
            if (status !== 200) return;
            const lastSeen = Date.parse((JSON.parse(body) as { lastSeen: string }).lastSeen);
            const agent = (context as { agent: string }).agent;
            if (!((this.acked.get(agent) ?? 0) >= lastSeen)) this.acked.set(agent, lastSeen);
          },
        },
      ],
      },
      (error, result) => (error ? fail(error) : finish(result)),
    );
    this.instance = instance;
    instance.on('response', (_client, status, _bytes, ms) => this.answers.push({ at: Date.now(), status, ms }));
    instance.on('reqError', (error: Error) => this.errors.push({ at: Date.now(), message: error.message }));
    return finished;
  }

  stop(): void {
    this.instance?.stop();
  }

  /** Answers and errors between two moments. */
  between(from: number, to: number): { answers: Beat[]; errors: number } {
    return {
      answers: this.answers.filter((a) => a.at >= from && a.at < to),
      errors: this.errors.filter((e) => e.at >= from && e.at < to).length,
    };
  }
}

/** Agents sign out and in again (`perS` a second); a wrong password every 5 s from an address of its own. */
export class Churn {
  signOuts = 0;
  signIns = 0;
  failedSignIns = 0;
  errors = 0;
  private timer: NodeJS.Timeout | null = null;
  private wrong: NodeJS.Timeout | null = null;

  constructor(
    private readonly base: () => string,
    private readonly agents: Person[],
    private readonly perS: number,
  ) {}

  start(): void {
    this.timer = setInterval(() => void this.once(), 1_000 / this.perS);
    this.wrong = setInterval(() => {
      const address = `10.${Math.floor(Math.random() * 250)}.${Math.floor(Math.random() * 250)}.${Math.floor(Math.random() * 250)}`;
      const who = this.agents[Math.floor(Math.random() * this.agents.length)]!;
      signIn(this.base(), who.email, 'not-the-password', address).then(
        (r) => (this.failedSignIns += r.status === 401 ? 1 : 0),
        () => (this.errors += 1),
      );
    }, 5_000);
  }

  private async once(): Promise<void> {
    const agent = this.agents[Math.floor(Math.random() * this.agents.length)]!;
    if (agent.busy) return;
    agent.busy = true;
    try {
      if ((await signOut(this.base(), agent.cookie)) === 204) this.signOuts += 1;
      const { cookie } = await signIn(this.base(), agent.email);
      if (cookie) {
        agent.cookie = cookie;
        agent.tab = randomUUID();
        this.signIns += 1;
      }
    } catch {
      this.errors += 1;
    } finally {
      agent.busy = false;
    }
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    if (this.wrong) clearInterval(this.wrong);
  }
}
