// The bench's child processes (servers, the load generator, the stream holder): Node with tsx, driven over IPC by
// requests that each get one answer ({ id, ... }), and stopped by a `stop` request or, failing that, SIGKILL.
import { fork, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { join } from 'node:path';
import { projectRoot } from '../server/config.ts';

export interface Request {
  type: string;
  [key: string]: unknown;
}

export class Child {
  private nextId = 1;
  private readonly waiting = new Map<number, { resolve: (m: any) => void; reject: (e: Error) => void }>();
  private exitError: Error | null = null;

  private constructor(
    readonly name: string,
    readonly process: ChildProcess,
  ) {
    process.on('message', (m: { id?: number; error?: string }) => {
      const w = m.id === undefined ? undefined : this.waiting.get(m.id);
      if (!w) return;
      this.waiting.delete(m.id!);
      if (m.error) w.reject(new Error(`${name}: ${m.error}`));
      else w.resolve(m);
    });
    process.on('exit', (code, signal) => {
      this.exitError = new Error(`${name} exited (${signal ?? code})`);
      for (const w of this.waiting.values()) w.reject(this.exitError);
      this.waiting.clear();
    });
  }

  /**
   * Starts bench/<file> with args; resolves once it answered its first message ({ id: 0, ... }). `nodeArgs` go to
   * Node (and, through node:cluster, to the processes it forks), e.g. --cpu-prof. `env` is added to this process's
   * environment; with `logFile`, the child's output is appended there instead of shown.
   */
  static async start<T = unknown>(
    name: string,
    file: string,
    args: string[],
    nodeArgs: string[] = [],
    { env = {}, logFile }: { env?: Record<string, string>; logFile?: string } = {},
  ): Promise<{ child: Child; ready: T }> {
    const proc = fork(join(projectRoot, 'bench', file), args, {
      cwd: projectRoot,
      env: { ...process.env, ...env },
      execArgv: ['--import', 'tsx', ...nodeArgs],
      stdio: ['ignore', logFile ? 'pipe' : 'inherit', logFile ? 'pipe' : 'inherit', 'ipc'],
    });
    if (logFile) {
      const log = createWriteStream(logFile, { flags: 'a' });
      proc.stdout!.pipe(log);
      proc.stderr!.pipe(log);
    }
    const child = new Child(logFile ? `${name} (log: ${logFile})` : name, proc);
    const ready = await new Promise<T>((resolve, reject) => {
      child.waiting.set(0, { resolve, reject });
    });
    return { child, ready };
  }

  get pid(): number {
    return this.process.pid!;
  }

  request<T = any>(message: Request): Promise<T> {
    if (this.exitError) return Promise.reject(this.exitError);
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      this.process.send({ ...message, id });
    });
  }

  async stop(): Promise<void> {
    if (this.exitError) return;
    const exited = new Promise((resolve) => this.process.once('exit', resolve));
    const timer = setTimeout(() => this.process.kill('SIGKILL'), 15_000);
    this.request({ type: 'stop' }).catch(() => {});
    await exited;
    clearTimeout(timer);
  }
}

/** The child side: answers each request with what `handle` returns (or its error), and the first message. */
export function serveRequests(handle: (m: Request) => Promise<Record<string, unknown>>): void {
  process.on('message', (m: Request & { id: number }) => {
    handle(m).then(
      (answer) => process.send!({ ...answer, id: m.id }),
      (error: unknown) => process.send!({ id: m.id, error: error instanceof Error ? (error.stack ?? error.message) : String(error) }),
    );
  });
}

export function ready(answer: Record<string, unknown> = {}): void {
  process.send!({ ...answer, id: 0 });
}
