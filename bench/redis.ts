// A Redis for the Redis baseline: REDIS_URL, or one already listening on 127.0.0.1:6379, or a private
// redis-server started on a free loopback port without persistence (stopped again by `stop`).
import { spawn, type ChildProcess } from 'node:child_process';
import { Redis } from 'ioredis';
import { freePort } from '../db/cluster.ts';
import { sleep } from './stats.ts';

export interface BenchRedis {
  url: string;
  own: boolean;
  stop(): Promise<void>;
}

async function reachable(url: string): Promise<boolean> {
  const redis = new Redis(url, { lazyConnect: true, connectTimeout: 500, maxRetriesPerRequest: 0, retryStrategy: () => null });
  try {
    await redis.connect();
    return (await redis.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    redis.disconnect();
  }
}

export async function openRedis(redisUrl: string | undefined): Promise<BenchRedis> {
  for (const url of [redisUrl, 'redis://127.0.0.1:6379'].filter((u): u is string => !!u)) {
    if (await reachable(url)) return { url, own: false, stop: async () => {} };
  }
  const port = await freePort();
  const child: ChildProcess = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    { stdio: 'ignore' },
  );
  const url = `redis://127.0.0.1:${port}`;
  for (let i = 0; i < 50 && !(await reachable(url)); i++) await sleep(100);
  return {
    url,
    own: true,
    async stop() {
      child.kill('SIGTERM');
      await new Promise((resolve) => child.once('exit', resolve));
    },
  };
}

/** Removes the baseline's keys from a Redis the run did not start. */
export async function clearRedisKeys(url: string, prefix: string): Promise<void> {
  const redis = new Redis(url);
  try {
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length) await redis.del(...keys);
  } finally {
    redis.disconnect();
  }
}
