// The soak's server process (bench/soak/serve.ts), started, stopped, killed and started again on its port, with its
// log kept in a file to count what it complained about.
import { readFileSync } from 'node:fs';
import { Child } from '../child.ts';

export class ServerProcess {
  child: Child | null = null;
  port = 0;

  constructor(
    private readonly ownerUrl: string,
    private readonly logFile: string,
  ) {}

  /** Starts the server (on `port` when given, to come back where clients look for it); resolves once it listens. */
  async start(port = 0): Promise<void> {
    const { child, ready } = await Child.start<{ port: number }>('the soak server', 'soak/serve.ts', [], [], {
      env: { SOAK_OWNER_URL: this.ownerUrl, PORT: String(port) },
      logFile: this.logFile,
    });
    this.child = child;
    this.port = ready.port;
  }

  get pid(): number {
    return this.child!.pid;
  }

  kill9(): void {
    this.child?.process.kill('SIGKILL');
    this.child = null;
  }

  async stop(): Promise<void> {
    await this.child?.stop();
  }

  /** Log lines at warn or above since `from` (line index), and the total count of lines. */
  warnings(from = 0): { lines: string[]; total: number } {
    const all = readFileSync(this.logFile, 'utf8').split('\n').filter(Boolean);
    const lines = all.slice(from).filter((line) => {
      try {
        return (JSON.parse(line) as { level: number }).level >= 40;
      } catch {
        return true; // not pino's: a crash, a stack
      }
    });
    return { lines, total: all.length };
  }
}
