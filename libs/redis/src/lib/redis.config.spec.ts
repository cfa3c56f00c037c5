import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REDIS_ENV_VARS, describeRedis, hasRedis, loadRedisConfig, redactRedisUrl } from './redis.config';

const PEM = '-----BEGIN CERTIFICATE-----\nMIIBtest\n-----END CERTIFICATE-----\n';

describe('loadRedisConfig', () => {
  let dir: string;
  let caFile: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'redis-config-'));
    caFile = join(dir, 'ca.pem');
    writeFileSync(caFile, PEM);
    writeFileSync(join(dir, 'not-pem.txt'), 'hello');
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  describe('standalone', () => {
    it('is embedded (no Redis) by default', () => {
      const c = loadRedisConfig({});
      expect(c).toEqual({ url: undefined, commandTimeoutMs: 250, connectTimeoutMs: 1000 });
      expect(hasRedis(c)).toBe(false);
      expect(describeRedis(c)).toBe('memory');
    });
    it('prefers REDIS_URL over the original REDIS_* variables', () => {
      const c = loadRedisConfig({ REDIS_URL: 'redis://a:6379/1', REDIS_HOST: 'b' });
      expect(c.url).toBe('redis://a:6379/1');
      expect(c.topology).toEqual({ mode: 'standalone', url: 'redis://a:6379/1' });
      expect(hasRedis(c)).toBe(true);
    });
    it('builds a URL from REDIS_HOST, REDIS_PORT, REDIS_PASSWORD and REDIS_DB (names kept from the original system)', () => {
      expect(loadRedisConfig({ REDIS_HOST: 'cache', REDIS_PORT: '6380', REDIS_PASSWORD: 'p@ss', REDIS_DB: '2' }).url).toBe('redis://:p%40ss@cache:6380/2');
      expect(loadRedisConfig({ REDIS_HOST: 'cache' }).url).toBe('redis://cache:6379/0');
      expect(loadRedisConfig({ REDIS_HOST: 'cache', REDIS_USERNAME: 'app', REDIS_PASSWORD: 'pw', REDIS_TLS: 'true' }).url).toBe('rediss://app:pw@cache:6379/0');
    });
    it('takes REDIS_USERNAME and REDIS_PASSWORD beside a REDIS_URL without credentials (a Secret beside a ConfigMap)', () => {
      const c = loadRedisConfig({ REDIS_URL: 'redis://r:6379/0', REDIS_USERNAME: 'app', REDIS_PASSWORD: 's3cret' });
      expect(c).toMatchObject({ url: 'redis://r:6379/0', username: 'app', password: 's3cret' });
    });
    it('turns TLS on for rediss:// and with REDIS_TLS, with the CA bundle of REDIS_TLS_CA_FILE', () => {
      expect(loadRedisConfig({ REDIS_URL: 'rediss://r:6380' }).tls).toEqual({});
      expect(loadRedisConfig({ REDIS_URL: 'redis://r:6380', REDIS_TLS: 'on', REDIS_TLS_CA_FILE: caFile }).tls).toEqual({ ca: PEM, caFile });
      expect(loadRedisConfig({ REDIS_URL: 'redis://r:6380' }).tls).toBeUndefined();
    });
  });

  describe('sentinel', () => {
    it('reads the sentinels, the master name, the database and the sentinels’ own credentials', () => {
      const c = loadRedisConfig({
        REDIS_SENTINELS: 's1:26379, s2:26380,s3,[::1]:26381',
        REDIS_SENTINEL_NAME: 'mymaster',
        REDIS_DB: '3',
        REDIS_USERNAME: 'app',
        REDIS_PASSWORD: 'data-pw',
        REDIS_SENTINEL_USERNAME: 'sentinel-user',
        REDIS_SENTINEL_PASSWORD: 'sentinel-pw',
        REDIS_TLS: 'true',
        REDIS_TLS_CA_FILE: caFile,
      });
      expect(c).toEqual({
        url: undefined,
        topology: {
          mode: 'sentinel',
          name: 'mymaster',
          db: 3,
          sentinels: [
            { host: 's1', port: 26379 },
            { host: 's2', port: 26380 },
            { host: 's3', port: 26379 },
            { host: '::1', port: 26381 },
          ],
          sentinelUsername: 'sentinel-user',
          sentinelPassword: 'sentinel-pw',
        },
        username: 'app',
        password: 'data-pw',
        tls: { ca: PEM, caFile },
        commandTimeoutMs: 250,
        connectTimeoutMs: 1000,
      });
      expect(hasRedis(c)).toBe(true);
      expect(describeRedis(c)).toBe('sentinel:mymaster@s1:26379,s2:26380,s3:26379,::1:26381');
      expect(describeRedis(c)).not.toContain('pw');
    });
  });

  describe('cluster', () => {
    it('reads the seed nodes (default port 6379) and the shared credentials and TLS', () => {
      const c = loadRedisConfig({ REDIS_CLUSTER_NODES: 'n1:7000,n2:7001,n3', REDIS_PASSWORD: 'pw', REDIS_TLS: '1' });
      expect(c).toEqual({
        url: undefined,
        topology: {
          mode: 'cluster',
          nodes: [
            { host: 'n1', port: 7000 },
            { host: 'n2', port: 7001 },
            { host: 'n3', port: 6379 },
          ],
        },
        password: 'pw',
        tls: {},
        commandTimeoutMs: 250,
        connectTimeoutMs: 1000,
      });
      expect(describeRedis(c)).toBe('cluster:n1:7000,n2:7001,n3:6379');
      // A node listed twice is kept once.
      expect(loadRedisConfig({ REDIS_CLUSTER_NODES: 'n1:7000,n1:7000,n1' }).topology).toEqual({
        mode: 'cluster',
        nodes: [
          { host: 'n1', port: 7000 },
          { host: 'n1', port: 6379 },
        ],
      });
    });
  });

  it.each([
    // Bad values
    [{ REDIS_URL: 'http://x' }, 'REDIS_URL'],
    [{ REDIS_URL: 'not a url' }, 'REDIS_URL'],
    [{ REDIS_HOST: 'x', REDIS_DB: '99' }, 'REDIS_DB'],
    [{ REDIS_COMMAND_TIMEOUT_MS: '0' }, 'REDIS_COMMAND_TIMEOUT_MS'],
    [{ REDIS_CONNECT_TIMEOUT_MS: 'soon' }, 'REDIS_CONNECT_TIMEOUT_MS'],
    [{ REDIS_SENTINELS: 's1:26379,,s2', REDIS_SENTINEL_NAME: 'm' }, 'REDIS_SENTINELS'],
    [{ REDIS_SENTINELS: 's1:99999', REDIS_SENTINEL_NAME: 'm' }, 'REDIS_SENTINELS'],
    [{ REDIS_SENTINELS: 'redis://s1:26379', REDIS_SENTINEL_NAME: 'm' }, 'REDIS_SENTINELS'],
    [{ REDIS_SENTINELS: 's1', REDIS_SENTINEL_NAME: 'my master' }, 'REDIS_SENTINEL_NAME'],
    [{ REDIS_CLUSTER_NODES: 'n1:abc' }, 'REDIS_CLUSTER_NODES'],
    [{ REDIS_CLUSTER_NODES: 'n1:7000', REDIS_DB: '1' }, 'REDIS_DB'],
    [{ REDIS_URL: 'redis://r', REDIS_TLS: 'maybe' }, 'REDIS_TLS'],
    // Missing companions
    [{ REDIS_SENTINELS: 's1:26379' }, 'REDIS_SENTINEL_NAME'],
    [{ REDIS_SENTINEL_NAME: 'm' }, 'REDIS_SENTINEL_NAME'],
    [{ REDIS_URL: 'redis://r', REDIS_SENTINEL_PASSWORD: 'x' }, 'REDIS_SENTINEL_PASSWORD'],
    [{ REDIS_CLUSTER_NODES: 'n1', REDIS_SENTINEL_USERNAME: 'x' }, 'REDIS_SENTINEL_USERNAME'],
    // Mutually exclusive
    [{ REDIS_URL: 'redis://r', REDIS_SENTINELS: 's1', REDIS_SENTINEL_NAME: 'm' }, 'REDIS_SENTINELS'],
    [{ REDIS_URL: 'redis://r', REDIS_CLUSTER_NODES: 'n1' }, 'REDIS_CLUSTER_NODES'],
    [{ REDIS_SENTINELS: 's1', REDIS_SENTINEL_NAME: 'm', REDIS_CLUSTER_NODES: 'n1' }, 'REDIS_CLUSTER_NODES'],
    [{ REDIS_HOST: 'h', REDIS_CLUSTER_NODES: 'n1' }, 'REDIS_HOST'],
    [{ REDIS_HOST: 'h', REDIS_SENTINELS: 's1', REDIS_SENTINEL_NAME: 'm' }, 'REDIS_HOST'],
    [{ REDIS_URL: 'redis://:inline@r', REDIS_PASSWORD: 'other' }, 'REDIS_PASSWORD'],
    [{ REDIS_URL: 'redis://user@r', REDIS_USERNAME: 'other' }, 'REDIS_USERNAME'],
    [{ REDIS_URL: 'rediss://r', REDIS_TLS: 'false' }, 'REDIS_TLS'],
  ])('stops on %j naming %s', (env, variable) => {
    expect(() => loadRedisConfig(env)).toThrow(`Invalid configuration: ${variable}`);
  });

  it('names REDIS_TLS_CA_FILE when it is set with TLS off, missing, or not PEM', () => {
    expect(() => loadRedisConfig({ REDIS_URL: 'redis://r', REDIS_TLS_CA_FILE: caFile })).toThrow(/REDIS_TLS_CA_FILE is set but TLS is off/);
    expect(() => loadRedisConfig({ REDIS_CLUSTER_NODES: 'n1', REDIS_TLS: 'true', REDIS_TLS_CA_FILE: join(dir, 'nope.pem') })).toThrow(
      /REDIS_TLS_CA_FILE cannot be read \(ENOENT\)/,
    );
    expect(() => loadRedisConfig({ REDIS_CLUSTER_NODES: 'n1', REDIS_TLS: 'true', REDIS_TLS_CA_FILE: join(dir, 'not-pem.txt') })).toThrow(
      /REDIS_TLS_CA_FILE holds no PEM certificate/,
    );
  });

  it('ignores credentials and TLS settings without any Redis (nothing to connect to)', () => {
    expect(loadRedisConfig({ REDIS_PASSWORD: 'pw', REDIS_TLS: 'true' })).toEqual({ url: undefined, commandTimeoutMs: 250, connectTimeoutMs: 1000 });
  });

  it('lists every variable it reads', () => {
    const read = new Set<string>();
    const spy = new Proxy({} as Record<string, string | undefined>, {
      get: (_, name) => {
        if (typeof name === 'string') read.add(name);
        return undefined;
      },
    });
    loadRedisConfig(spy);
    expect([...read].filter((n) => n.startsWith('REDIS_')).sort()).toEqual([...REDIS_ENV_VARS].sort());
  });

  it('redacts passwords', () => {
    expect(redactRedisUrl('redis://:secret@h:1/0')).toBe('redis://:***@h:1/0');
    expect(redactRedisUrl('::')).toBe('redis://(unparseable)');
    expect(describeRedis({ url: 'redis://:secret@h:1/0' })).toBe('redis://:***@h:1/0');
  });
});
