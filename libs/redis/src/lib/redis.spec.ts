import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { createRedisClient, waitUntilReady } from './redis.client';
import { loadRedisConfig, redactRedisUrl } from './redis.config';

describe('loadRedisConfig', () => {
  it('is embedded (no URL) by default', () => {
    expect(loadRedisConfig({})).toEqual({ url: undefined, commandTimeoutMs: 250, connectTimeoutMs: 1000 });
  });
  it('prefers REDIS_URL over the original REDIS_* variables', () => {
    expect(loadRedisConfig({ REDIS_URL: 'redis://a:6379/1', REDIS_HOST: 'b' }).url).toBe('redis://a:6379/1');
  });
  it('builds a URL from REDIS_HOST, REDIS_PORT, REDIS_PASSWORD and REDIS_DB', () => {
    expect(loadRedisConfig({ REDIS_HOST: 'cache', REDIS_PORT: '6380', REDIS_PASSWORD: 'p@ss', REDIS_DB: '2' }).url).toBe('redis://:p%40ss@cache:6380/2');
    expect(loadRedisConfig({ REDIS_HOST: 'cache' }).url).toBe('redis://cache:6379/0');
  });
  it.each([
    [{ REDIS_URL: 'http://x' }, 'REDIS_URL'],
    [{ REDIS_URL: 'not a url' }, 'REDIS_URL'],
    [{ REDIS_HOST: 'x', REDIS_DB: '99' }, 'REDIS_DB'],
    [{ REDIS_COMMAND_TIMEOUT_MS: '0' }, 'REDIS_COMMAND_TIMEOUT_MS'],
  ])('names the bad variable in %j', (env, variable) => {
    expect(() => loadRedisConfig(env)).toThrow(`Invalid configuration: ${variable}`);
  });
  it('redacts passwords', () => {
    expect(redactRedisUrl('redis://:secret@h:1/0')).toBe('redis://:***@h:1/0');
    expect(redactRedisUrl('::')).toBe('redis://(unparseable)');
  });
});

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
