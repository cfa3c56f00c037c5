import { readFileSync } from 'node:fs';
import { ConfigError, env, loadEnv, type Env } from '@ml/config';

/** One `host:port` of a Sentinel or cluster seed list. */
export interface RedisNode {
  host: string;
  port: number;
}

/**
 * Where Redis is: one server (`REDIS_URL`, or the original `REDIS_HOST`...), a master found through
 * Sentinel (`REDIS_SENTINELS` + `REDIS_SENTINEL_NAME`), or a Redis Cluster (`REDIS_CLUSTER_NODES`).
 */
export type RedisTopology =
  | { mode: 'standalone'; url: string }
  | {
      mode: 'sentinel';
      sentinels: RedisNode[];
      /** The master group name the sentinels monitor. */
      name: string;
      db: number;
      sentinelUsername?: string;
      sentinelPassword?: string;
    }
  | { mode: 'cluster'; nodes: RedisNode[] };

export interface RedisTls {
  /** PEM text of the CA bundle from `REDIS_TLS_CA_FILE`; absent = the system's CAs. */
  ca?: string;
  caFile?: string;
}

export interface RedisConfig {
  /**
   * The standalone server's URL (credentials in it included); undefined in Sentinel and cluster
   * mode and without Redis. Kept for callers that only know one server.
   */
  url: string | undefined;
  /** Unset = embedded mode: the caller keeps its state in memory. */
  topology?: RedisTopology;
  /** ACL user and password of the data nodes (`REDIS_USERNAME`, `REDIS_PASSWORD`). */
  username?: string;
  password?: string;
  /** Set when the data nodes (and sentinels) speak TLS. */
  tls?: RedisTls;
  /** Longest a single Redis command may take before it counts as failed. */
  commandTimeoutMs: number;
  connectTimeoutMs: number;
}

/** True when some Redis (any mode) is configured. */
export function hasRedis(config: Pick<RedisConfig, 'url' | 'topology'>): boolean {
  return config.topology !== undefined || config.url !== undefined;
}

/** Every variable this module reads, for manifests and tests that check names. */
export const REDIS_ENV_VARS = [
  'REDIS_URL',
  'REDIS_HOST',
  'REDIS_PORT',
  'REDIS_DB',
  'REDIS_USERNAME',
  'REDIS_PASSWORD',
  'REDIS_SENTINELS',
  'REDIS_SENTINEL_NAME',
  'REDIS_SENTINEL_USERNAME',
  'REDIS_SENTINEL_PASSWORD',
  'REDIS_CLUSTER_NODES',
  'REDIS_TLS',
  'REDIS_TLS_CA_FILE',
  'REDIS_COMMAND_TIMEOUT_MS',
  'REDIS_CONNECT_TIMEOUT_MS',
] as const;

/**
 * `host:port,host:port` (IPv6 as `[::1]:26379`); the port may be left out where there is a default.
 * A node listed twice is kept once (harmless, e.g. several names mapped to one test address).
 */
function parseNodes(variable: string, text: string, defaultPort: number): RedisNode[] {
  const items = text.split(',').map((s) => s.trim());
  if (items.some((s) => s === '')) throw new ConfigError(variable, 'must be a comma-separated list of host:port with no empty entries');
  const nodes = new Map<string, RedisNode>();
  for (const item of items) {
    const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]\s/@]+))(?::(\d+))?$/.exec(item);
    if (!m) throw new ConfigError(variable, `has a bad entry ${JSON.stringify(item)}: expected host:port`);
    const host = m[1] ?? m[2];
    const port = m[3] === undefined ? defaultPort : Number(m[3]);
    if (!Number.isInteger(port) || port < 1 || port > 65535) throw new ConfigError(variable, `has a bad port in ${JSON.stringify(item)} (1-65535)`);
    if (!nodes.has(`${host}:${port}`)) nodes.set(`${host}:${port}`, { host, port });
  }
  return [...nodes.values()];
}

/**
 * Reads the Redis settings once at boot. Exactly one way of naming Redis may be used:
 * `REDIS_URL` (the original system's `REDIS_HOST`/`REDIS_PORT`/`REDIS_DB` are honoured when it is
 * unset), `REDIS_SENTINELS` with `REDIS_SENTINEL_NAME`, or `REDIS_CLUSTER_NODES`; combining them
 * is a configuration error naming both. `REDIS_USERNAME`, `REDIS_PASSWORD`, `REDIS_TLS` and
 * `REDIS_TLS_CA_FILE` apply to every mode; `REDIS_SENTINEL_USERNAME` / `REDIS_SENTINEL_PASSWORD`
 * authenticate to the sentinels themselves.
 */
export function loadRedisConfig(source: Env = process.env): RedisConfig {
  const e = loadEnv(
    {
      REDIS_URL: env.optionalString(),
      REDIS_HOST: env.optionalString(),
      REDIS_PORT: env.port(6379),
      REDIS_DB: env.int(0, { min: 0, max: 15 }),
      REDIS_USERNAME: env.optionalString(),
      REDIS_PASSWORD: env.optionalString(),
      REDIS_SENTINELS: env.optionalString(),
      REDIS_SENTINEL_NAME: env.optionalString(),
      REDIS_SENTINEL_USERNAME: env.optionalString(),
      REDIS_SENTINEL_PASSWORD: env.optionalString(),
      REDIS_CLUSTER_NODES: env.optionalString(),
      REDIS_TLS: env.bool(false),
      REDIS_TLS_CA_FILE: env.optionalString(),
      REDIS_COMMAND_TIMEOUT_MS: env.int(250, { min: 1, max: 60_000 }),
      REDIS_CONNECT_TIMEOUT_MS: env.int(1000, { min: 1, max: 60_000 }),
    },
    source,
  );
  const isSet = (name: string) => typeof source[name] === 'string' && (source[name] as string).trim() !== '';
  const username = e.REDIS_USERNAME as string | undefined;
  const password = e.REDIS_PASSWORD as string | undefined;
  const db = e.REDIS_DB as number;

  // Which way Redis is named: exactly one.
  const ways = (['REDIS_URL', 'REDIS_SENTINELS', 'REDIS_CLUSTER_NODES'] as const).filter(isSet);
  if (ways.length > 1) throw new ConfigError(ways[1], `cannot be combined with ${ways[0]}: name Redis one way only`);
  if (ways.length === 1 && ways[0] !== 'REDIS_URL' && isSet('REDIS_HOST')) {
    throw new ConfigError('REDIS_HOST', `cannot be combined with ${ways[0]}: name Redis one way only`);
  }
  if (isSet('REDIS_SENTINEL_NAME') && !isSet('REDIS_SENTINELS')) throw new ConfigError('REDIS_SENTINEL_NAME', 'is set but REDIS_SENTINELS is not');
  for (const v of ['REDIS_SENTINEL_USERNAME', 'REDIS_SENTINEL_PASSWORD']) {
    if (isSet(v) && !isSet('REDIS_SENTINELS')) throw new ConfigError(v, 'is set but REDIS_SENTINELS is not');
  }

  let url: string | undefined;
  let topology: RedisTopology | undefined;
  let urlTls = false;
  if (e.REDIS_URL !== undefined) {
    let parsed: URL;
    try {
      parsed = new URL(e.REDIS_URL as string);
    } catch {
      throw new ConfigError('REDIS_URL', 'must be a redis:// or rediss:// URL');
    }
    if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:') throw new ConfigError('REDIS_URL', 'must be a redis:// or rediss:// URL');
    urlTls = parsed.protocol === 'rediss:';
    // Credentials in two places would leave the reader guessing which one is used.
    if (parsed.password && password !== undefined) throw new ConfigError('REDIS_PASSWORD', 'cannot be combined with a password inside REDIS_URL');
    if (parsed.username && username !== undefined) throw new ConfigError('REDIS_USERNAME', 'cannot be combined with a user name inside REDIS_URL');
    url = e.REDIS_URL as string;
    topology = { mode: 'standalone', url };
  } else if (e.REDIS_SENTINELS !== undefined) {
    const sentinels = parseNodes('REDIS_SENTINELS', e.REDIS_SENTINELS as string, 26379);
    const name = e.REDIS_SENTINEL_NAME as string | undefined;
    if (name === undefined) throw new ConfigError('REDIS_SENTINEL_NAME', 'is required with REDIS_SENTINELS (the master group name the sentinels monitor)');
    if (/\s/.test(name)) throw new ConfigError('REDIS_SENTINEL_NAME', 'must not contain whitespace');
    topology = {
      mode: 'sentinel',
      sentinels,
      name,
      db,
      ...(e.REDIS_SENTINEL_USERNAME === undefined ? {} : { sentinelUsername: e.REDIS_SENTINEL_USERNAME as string }),
      ...(e.REDIS_SENTINEL_PASSWORD === undefined ? {} : { sentinelPassword: e.REDIS_SENTINEL_PASSWORD as string }),
    };
  } else if (e.REDIS_CLUSTER_NODES !== undefined) {
    if (db !== 0) throw new ConfigError('REDIS_DB', 'must be 0 with REDIS_CLUSTER_NODES (a Redis Cluster has only database 0)');
    topology = { mode: 'cluster', nodes: parseNodes('REDIS_CLUSTER_NODES', e.REDIS_CLUSTER_NODES as string, 6379) };
  } else if (e.REDIS_HOST !== undefined) {
    // The original system's variables; the password goes into the URL as it always did.
    const auth = password !== undefined || username !== undefined ? `${encodeURIComponent(username ?? '')}:${encodeURIComponent(password ?? '')}@` : '';
    const scheme = e.REDIS_TLS ? 'rediss' : 'redis';
    url = `${scheme}://${auth}${e.REDIS_HOST as string}:${e.REDIS_PORT as number}/${db}`;
    topology = { mode: 'standalone', url };
  }

  const caFile = e.REDIS_TLS_CA_FILE as string | undefined;
  if (caFile !== undefined && !e.REDIS_TLS && !urlTls) throw new ConfigError('REDIS_TLS_CA_FILE', 'is set but TLS is off: set REDIS_TLS=true (or use a rediss:// URL)');
  if (isSet('REDIS_TLS') && !e.REDIS_TLS && urlTls) throw new ConfigError('REDIS_TLS', 'is false but REDIS_URL is rediss:// (TLS)');
  let tls: RedisTls | undefined;
  if (e.REDIS_TLS || urlTls) {
    tls = {};
    if (caFile !== undefined) {
      let ca: string;
      try {
        ca = readFileSync(caFile, 'utf8');
      } catch (error) {
        throw new ConfigError('REDIS_TLS_CA_FILE', `cannot be read (${(error as NodeJS.ErrnoException).code ?? String(error)}): ${caFile}`);
      }
      if (!ca.includes('-----BEGIN CERTIFICATE-----')) throw new ConfigError('REDIS_TLS_CA_FILE', `holds no PEM certificate: ${caFile}`);
      tls = { ca, caFile };
    }
  }

  return {
    url,
    ...(topology ? { topology } : {}),
    ...(username !== undefined && topology ? { username } : {}),
    ...(password !== undefined && topology ? { password } : {}),
    ...(tls && topology ? { tls } : {}),
    commandTimeoutMs: e.REDIS_COMMAND_TIMEOUT_MS as number,
    connectTimeoutMs: e.REDIS_CONNECT_TIMEOUT_MS as number,
  };
}

/** The URL with any password replaced, for logs and health details. */
export function redactRedisUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return 'redis://(unparseable)';
  }
}

/** Where the client talks to, without secrets: for logs and health details. */
export function describeRedis(config: Pick<RedisConfig, 'url' | 'topology'>): string {
  const t = config.topology ?? (config.url ? { mode: 'standalone' as const, url: config.url } : undefined);
  if (!t) return 'memory';
  const list = (nodes: RedisNode[]) => nodes.map((n) => `${n.host}:${n.port}`).join(',');
  switch (t.mode) {
    case 'standalone':
      return redactRedisUrl(t.url);
    case 'sentinel':
      return `sentinel:${t.name}@${list(t.sentinels)}`;
    case 'cluster':
      return `cluster:${list(t.nodes)}`;
  }
}
