import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { createRedisClient, pingRedis, waitUntilReady } from './redis.client';

const freePort = () =>
  new Promise<number>((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });

describe('createRedisClient against real Redis', () => {
  it('talks to the shared Redis', async () => {
    const client = createRedisClient({ url: 'redis://127.0.0.1:6379/0', commandTimeoutMs: 500, connectTimeoutMs: 1000 });
    try {
      expect(await waitUntilReady(client, 3000)).toBe(true);
      expect(await client.ping()).toBe('PONG');
      await expect(pingRedis(client)).resolves.toBeUndefined();
    } finally {
      client.disconnect();
    }
  });

  it('fails commands fast while Redis is down and recovers by itself', async () => {
    const port = await freePort();
    const client = createRedisClient({ url: `redis://127.0.0.1:${port}/0`, commandTimeoutMs: 200, connectTimeoutMs: 300 }, 'test');
    let server: ChildProcess | undefined;
    try {
      expect(await waitUntilReady(client, 300)).toBe(false);
      const t0 = Date.now();
      await expect(client.get('x')).rejects.toThrow();
      expect(Date.now() - t0).toBeLessThan(200);
      server = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
      expect(await waitUntilReady(client, 10_000)).toBe(true);
      expect(await client.ping()).toBe('PONG');
      // A hung server: the command times out instead of waiting forever.
      server.kill('SIGSTOP');
      const t1 = Date.now();
      await expect(client.get('x')).rejects.toThrow(/timed out/i);
      expect(Date.now() - t1).toBeLessThan(1500);
      server.kill('SIGCONT');
    } finally {
      client.disconnect();
      server?.kill('SIGKILL');
    }
  });
});
