import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Cluster, Redis } from 'ioredis';
import { commandTimeoutOf, createRedisClient, pingRedis, unboundedClientProblem, waitUntilReady, type RedisClient } from './redis.client';
import { loadRedisConfig } from './redis.config';

const freePort = () =>
  new Promise<number>((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });

describe('createRedisClient: one client kind per mode, always bounded', () => {
  const made: RedisClient[] = [];
  afterAll(() => made.forEach((c) => c.disconnect()));
  const make = (env: Record<string, string>) => {
    const c = createRedisClient(loadRedisConfig({ REDIS_COMMAND_TIMEOUT_MS: '123', ...env }), 'modes');
    made.push(c);
    return c;
  };

  it('standalone: a Redis with the credentials given beside the URL', async () => {
    const c = make({ REDIS_URL: `redis://127.0.0.1:${await freePort()}/2`, REDIS_USERNAME: 'app', REDIS_PASSWORD: 'pw' });
    expect(c).toBeInstanceOf(Redis);
    expect(c.options).toMatchObject({ db: 2, username: 'app', password: 'pw', enableOfflineQueue: false, commandTimeout: 123, maxRetriesPerRequest: 0 });
    expect(unboundedClientProblem(c)).toBeUndefined();
  });

  it('sentinel: a Redis that asks the sentinels for the master, with their own credentials, and follows failovers', async () => {
    const c = make({ REDIS_SENTINELS: `127.0.0.1:${await freePort()}`, REDIS_SENTINEL_NAME: 'm', REDIS_SENTINEL_PASSWORD: 'spw', REDIS_PASSWORD: 'pw', REDIS_DB: '1' });
    expect(c).toBeInstanceOf(Redis);
    expect(c.options).toMatchObject({ name: 'm', role: 'master', db: 1, password: 'pw', sentinelPassword: 'spw', failoverDetector: true, enableOfflineQueue: false });
    expect(commandTimeoutOf(c)).toBe(123);
    expect(unboundedClientProblem(c)).toBeUndefined();
  });

  it('cluster: a Cluster whose node connections carry the timeout, credentials and TLS', async () => {
    const c = make({ REDIS_CLUSTER_NODES: `127.0.0.1:${await freePort()}`, REDIS_USERNAME: 'app', REDIS_PASSWORD: 'pw', REDIS_TLS: 'true' });
    expect(c).toBeInstanceOf(Cluster);
    const cluster = c as Cluster;
    expect(cluster.options.enableOfflineQueue).toBe(false);
    expect(cluster.options.autoPipeliningIgnoredCommands).toEqual(expect.arrayContaining(['evalsha', 'eval']));
    expect(cluster.options.redisOptions).toMatchObject({ username: 'app', password: 'pw', commandTimeout: 123, tls: {} });
    expect(commandTimeoutOf(c)).toBe(123);
    expect(unboundedClientProblem(c)).toBeUndefined();
  });

  it('names what makes a hand-made client unfit for the stores', () => {
    const queued = new Redis({ lazyConnect: true, commandTimeout: 100 });
    const untimed = new Redis({ lazyConnect: true, enableOfflineQueue: false });
    const cluster = new Cluster([], { lazyConnect: true, enableOfflineQueue: false });
    expect(unboundedClientProblem(queued)).toMatch(/enableOfflineQueue: false/);
    expect(unboundedClientProblem(untimed)).toMatch(/commandTimeout/);
    expect(unboundedClientProblem(cluster)).toMatch(/commandTimeout/);
    expect(() => createRedisClient({ commandTimeoutMs: 1, connectTimeoutMs: 1 })).toThrow(/no Redis configured/);
    [queued, untimed, cluster].forEach((c) => c.disconnect());
  });

  it('does not call a cluster healthy before it knows a master for every slot', async () => {
    const cluster = new Cluster([], { lazyConnect: true, enableOfflineQueue: false });
    try {
      await expect(pingRedis(cluster)).rejects.toThrow(/no cluster master known/);
    } finally {
      cluster.disconnect();
    }
  });
});

describe('createRedisClient against a real TLS Redis with an ACL user', () => {
  let dir: string;
  let server: ChildProcess | undefined;
  let port: number;
  const clients: RedisClient[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'redis-tls-'));
    const ssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' });
    const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
    ssl('req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '1', '-subj', '/CN=ml-services test CA');
    ssl('req', ...ec, '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=127.0.0.1');
    writeFileSync(join(dir, 'san.ext'), 'subjectAltName=IP:127.0.0.1\n');
    ssl('x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.pem', '-days', '1', '-extfile', 'san.ext');
    port = await freePort();
    server = spawn(
      'redis-server',
      [
        '--port', '0', '--tls-port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no',
        '--tls-cert-file', join(dir, 'server.pem'), '--tls-key-file', join(dir, 'server.key'), '--tls-ca-cert-file', join(dir, 'ca.pem'),
        '--tls-auth-clients', 'no',
        '--user', 'default', 'off', '--user', 'app', 'on', '>app-secret', '~*', '&*', '+@all',
      ],
      { stdio: 'ignore' },
    );
  }, 30_000);

  afterAll(async () => {
    clients.forEach((c) => c.disconnect());
    if (server && server.exitCode === null) {
      const gone = new Promise((r) => server?.once('exit', r));
      server.kill('SIGKILL');
      await gone;
    }
    rmSync(dir, { recursive: true, force: true });
  });

  const connect = (env: Record<string, string>) => {
    const c = createRedisClient(loadRedisConfig({ REDIS_URL: `redis://127.0.0.1:${port}/0`, REDIS_CONNECT_TIMEOUT_MS: '1000', ...env }), 'tls');
    clients.push(c);
    return c;
  };

  it('connects with REDIS_TLS, the CA of REDIS_TLS_CA_FILE and REDIS_USERNAME / REDIS_PASSWORD', async () => {
    const c = connect({ REDIS_TLS: 'true', REDIS_TLS_CA_FILE: join(dir, 'ca.pem'), REDIS_USERNAME: 'app', REDIS_PASSWORD: 'app-secret' });
    expect(await waitUntilReady(c, 10_000)).toBe(true);
    expect(await c.call('ACL', 'WHOAMI')).toBe('app');
  });

  it('does not trust the server without the CA bundle, nor authenticate with a wrong password', async () => {
    const untrusted = connect({ REDIS_TLS: 'true', REDIS_USERNAME: 'app', REDIS_PASSWORD: 'app-secret' });
    const wrong = connect({ REDIS_TLS: 'true', REDIS_TLS_CA_FILE: join(dir, 'ca.pem'), REDIS_USERNAME: 'app', REDIS_PASSWORD: 'nope' });
    const errors: string[] = [];
    untrusted.on('error', (e: Error) => errors.push(e.message));
    wrong.on('error', (e: Error) => errors.push(e.message));
    expect(await waitUntilReady(untrusted, 1500)).toBe(false);
    expect(await waitUntilReady(wrong, 500)).toBe(false);
    expect(errors.join('\n')).toMatch(/self.signed|unable to (get|verify)/i);
    expect(errors.join('\n')).toMatch(/WRONGPASS/);
  });
});
