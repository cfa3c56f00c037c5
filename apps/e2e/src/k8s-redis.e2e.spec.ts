/**
 * Cache entries must never push customer histories or rate-limit counters out of Redis. k8s/ and
 * docker/compose.yaml run two Redis: the cache's (allkeys-lru) and the state's (noeviction). This
 * runs real redis-server processes with the policies those files give them (maxmemory scaled down
 * so a few MB fill them), fills the cache past its maxmemory, then the state one past its own, and
 * shows that no state key is lost; and, for contrast, that one shared Redis with the old policy
 * (volatile-lru: every key has a TTL) does lose them.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import YAML from 'yaml';
import { containerEnv, deploymentOf, redisArgs, render } from './support/k8s';
import { ROOT } from './support/processes';

const SMALL = '4mb';
const STATE_KEYS = 300;

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  await new Promise((r) => server.close(r));
  return port;
}

const running: ChildProcess[] = [];
async function redisServer(policy: string): Promise<Redis> {
  const port = await freePort();
  const proc = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--maxmemory', SMALL, '--maxmemory-policy', policy], { stdio: 'ignore' });
  running.push(proc);
  for (let i = 0; i < 100; i++) {
    const client = new Redis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    try {
      await client.connect();
      return client;
    } catch {
      client.disconnect();
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  throw new Error(`redis-server on ${port} did not start`);
}

/** What the apps keep: a profile (90 days) and a rate-limit counter (one window) per customer. */
async function writeState(redis: Redis) {
  for (let i = 0; i < STATE_KEYS; i++) {
    await redis.set(`ml:profile:v2:customer-${i}`, JSON.stringify({ n: i, history: 'x'.repeat(1000) }), 'PX', 90 * 86_400_000);
    await redis.set(`ml:rl:key-${i}`, String(i), 'EX', 60);
  }
}
const stateKeysLeft = async (redis: Redis) => (await redis.keys('ml:profile:*')).length + (await redis.keys('ml:rl:*')).length;

/** Cache entries as the gateway writes them (SET ... PX), far more than maxmemory holds. Returns the errors. */
async function fillCache(redis: Redis, entries = 12_000): Promise<number> {
  let errors = 0;
  const value = JSON.stringify({ intent: 'card_arrival', confidence: 0.9, top: 'y'.repeat(600) });
  for (let i = 0; i < entries; i += 200) {
    const batch = redis.pipeline();
    for (let j = i; j < i + 200; j++) batch.set(`ml:pred:v1:q${j}`, value, 'PX', 3_600_000);
    for (const [error] of (await batch.exec()) ?? []) if (error) errors++;
  }
  return errors;
}
const info = async (redis: Redis, field: string) => Number(new RegExp(`${field}:(\\d+)`).exec(await redis.info())?.[1]);

describe('Redis: cache entries never evict customer histories or counters', () => {
  const dev = render('dev');
  const gateway = containerEnv(dev, 'gateway').given;
  const policyOf = (url: string) => redisArgs(deploymentOf(dev, new URL(url).hostname).spec.template.spec.containers[0]).policy as string;
  const compose = YAML.parse(readFileSync(join(ROOT, 'docker', 'compose.yaml'), 'utf8')) as { services: Record<string, { command?: string[]; environment?: Record<string, string> }> };
  const composePolicy = (service: string) => {
    const command = compose.services[service]?.command ?? [];
    return command[command.indexOf('--maxmemory-policy') + 1];
  };
  const clients: Redis[] = [];
  afterAll(async () => {
    for (const c of clients) c.disconnect();
    await Promise.all(running.map((p) => new Promise((r) => (p.exitCode !== null ? r(null) : (p.once('exit', r), p.kill('SIGKILL'))))));
  });

  it('k8s/ and docker/compose.yaml give the state Redis noeviction and the cache Redis allkeys-lru', () => {
    expect(policyOf(gateway['REDIS_URL'])).toBe('noeviction');
    expect(policyOf(gateway['CACHE_REDIS_URL'])).toBe('allkeys-lru');
    const gw = compose.services['gateway'].environment ?? {};
    expect(composePolicy(new URL(gw['REDIS_URL'] ?? compose.services['anomaly-detector'].environment?.['REDIS_URL'] ?? 'redis://redis').hostname)).toBe('noeviction');
    expect(composePolicy(new URL(gw['CACHE_REDIS_URL']).hostname)).toBe('allkeys-lru');
  });

  it('with those policies, filling the cache past maxmemory evicts cache entries only, and a full state Redis refuses writes instead of evicting', async () => {
    const state = await redisServer(policyOf(gateway['REDIS_URL']));
    const cache = await redisServer(policyOf(gateway['CACHE_REDIS_URL']));
    clients.push(state, cache);
    await writeState(state);
    // The cache takes every write and evicts its own least recently used entries.
    expect(await fillCache(cache)).toBe(0);
    expect(await info(cache, 'evicted_keys')).toBeGreaterThan(0);
    expect(await stateKeysLeft(state)).toBe(2 * STATE_KEYS);
    // The state Redis full: new writes fail (OOM), and nothing it held is gone.
    const refused = await fillCache(state);
    expect(refused).toBeGreaterThan(0);
    // A new customer's profile is refused too, with Redis's OOM error. (Not every single write:
    // used memory moves a little once a pipeline's buffers are freed, so one small write may still
    // fit; a few profiles' worth cannot.)
    const profiles = state.pipeline();
    for (let i = 0; i < 50; i++) profiles.set(`ml:profile:v2:new-customer-${i}`, JSON.stringify({ n: i, history: 'x'.repeat(1000) }), 'PX', 90 * 86_400_000);
    const errors = ((await profiles.exec()) ?? []).map(([error]) => error).filter((e): e is Error => e !== null);
    expect(errors.length).toBeGreaterThan(0);
    expect(errors[0].message).toMatch(/OOM/);
    expect(await info(state, 'evicted_keys')).toBe(0);
    expect(await stateKeysLeft(state)).toBeGreaterThanOrEqual(2 * STATE_KEYS);
    for (let i = 0; i < STATE_KEYS; i++) expect(await state.exists(`ml:profile:v2:customer-${i}`, `ml:rl:key-${i}`)).toBe(2);
  });

  it('for contrast: one shared Redis with the old volatile-lru policy loses state to cache entries', async () => {
    const shared = await redisServer('volatile-lru');
    clients.push(shared);
    await writeState(shared);
    await fillCache(shared);
    expect(await stateKeysLeft(shared)).toBeLessThan(2 * STATE_KEYS);
  });
});
