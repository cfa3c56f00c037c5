import { Logger } from '@nestjs/common';
import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';
import type { ConnectionOptions } from 'node:tls';
import { describeRedis, type RedisConfig, type RedisTopology } from './redis.config';

/** What every store is given: one server or a master through Sentinel (`Redis`), or a `Cluster`. */
export type RedisClient = Redis | Cluster;

/** The settings `createRedisClient` needs: a standalone `url`, or a `topology` from `loadRedisConfig`. */
export type RedisClientConfig = Pick<RedisConfig, 'commandTimeoutMs' | 'connectTimeoutMs'> &
  Partial<Pick<RedisConfig, 'url' | 'topology' | 'username' | 'password' | 'tls'>>;

/** Reconnect delays: quick first retries (a failover takes 1-3 s), capped so a long outage costs little. */
const reconnectDelay = (times: number) => Math.min(50 * 2 ** Math.min(times, 5), 1000);

/**
 * A client that never makes a request wait on Redis: no offline queue (commands fail at once while
 * disconnected), a per-command timeout, and reconnection in the background with capped backoff.
 *
 * - standalone: one server at `url`;
 * - sentinel: the master of `name` as the sentinels report it. The client follows a failover: it
 *   listens for the sentinels' `+switch-master` and reconnects to the new master, and a `READONLY`
 *   reply (still talking to a demoted master) makes it reconnect and ask the sentinels again;
 * - cluster: a Cluster client that routes each key to its slot's master and refreshes the slot map
 *   when a node fails or answers MOVED.
 *
 * Commands and scripts of the stores touch one key each, so they are valid in a cluster as they are.
 */
export function createRedisClient(config: RedisClientConfig & { url: string; topology?: undefined }, name?: string): Redis;
export function createRedisClient(config: RedisClientConfig, name?: string): RedisClient;
export function createRedisClient(config: RedisClientConfig, name = 'redis'): RedisClient {
  const topology: RedisTopology | undefined = config.topology ?? (config.url ? { mode: 'standalone', url: config.url } : undefined);
  if (!topology) throw new Error('createRedisClient: no Redis configured (url or topology)');
  const logger = new Logger(`Redis:${name}`);
  const where = describeRedis({ url: config.url, topology });
  const tls: ConnectionOptions | undefined = config.tls ? (config.tls.ca ? { ca: config.tls.ca } : {}) : undefined;
  const auth: Pick<RedisOptions, 'username' | 'password'> = {
    ...(config.username !== undefined ? { username: config.username } : {}),
    ...(config.password !== undefined ? { password: config.password } : {}),
  };
  const bounded = {
    commandTimeout: config.commandTimeoutMs,
    connectTimeout: config.connectTimeoutMs,
    maxRetriesPerRequest: 0,
  } satisfies RedisOptions;

  let client: RedisClient;
  switch (topology.mode) {
    case 'standalone':
      client = new Redis(topology.url, {
        ...auth,
        ...bounded,
        ...(tls ? { tls } : {}),
        enableOfflineQueue: false,
        // Commands issued in the same tick (a batch's reads, its write-backs, concurrent requests'
        // counters) leave in one write: one round trip instead of one per command.
        enableAutoPipelining: true,
        retryStrategy: reconnectDelay,
        reconnectOnError: () => false,
        lazyConnect: false,
      });
      break;
    case 'sentinel':
      client = new Redis({
        ...auth,
        ...bounded,
        ...(tls ? { tls, enableTLSForSentinelMode: true, sentinelTLS: tls } : {}),
        sentinels: topology.sentinels,
        name: topology.name,
        role: 'master',
        db: topology.db,
        ...(topology.sentinelUsername !== undefined ? { sentinelUsername: topology.sentinelUsername } : {}),
        ...(topology.sentinelPassword !== undefined ? { sentinelPassword: topology.sentinelPassword } : {}),
        sentinelCommandTimeout: config.connectTimeoutMs,
        // Ask the next sentinel at once; between full rounds wait like any reconnect.
        sentinelRetryStrategy: reconnectDelay,
        failoverDetector: true,
        enableOfflineQueue: false,
        enableAutoPipelining: true,
        retryStrategy: reconnectDelay,
        // A demoted master answers writes with READONLY: reconnect, which asks the sentinels again.
        reconnectOnError: (err) => err.message.startsWith('READONLY'),
        lazyConnect: false,
      });
      break;
    case 'cluster': {
      const options: ClusterOptions = {
        enableOfflineQueue: false,
        enableAutoPipelining: true,
        // ioredis groups auto-pipelined commands by the slot of their first argument, which for
        // EVALSHA/EVAL is the script, not the key: scripts of keys on other nodes then land in one
        // pipeline and fail ("same slots allocation group", redis/ioredis#2109). Sent alone they are
        // routed by their key.
        autoPipeliningIgnoredCommands: ['evalsha', 'eval'],
        clusterRetryStrategy: reconnectDelay,
        // A command that meets a failed master is retried (after a slot refresh) every 100 ms; the
        // caller's budget and the command timeout bound the whole, so a failover shows up as a
        // failed call, never as a request that waits for it.
        retryDelayOnFailover: 100,
        retryDelayOnClusterDown: 100,
        retryDelayOnTryAgain: 50,
        slotsRefreshTimeout: config.connectTimeoutMs,
        slotsRefreshInterval: 2000,
        redisOptions: { ...auth, ...bounded, ...(tls ? { tls } : {}) },
        lazyConnect: false,
      };
      client = new Cluster(topology.nodes, options);
      break;
    }
  }

  let lastError = '';
  client.on('error', (err: Error) => {
    // ioredis emits the same error on every reconnect attempt: log it once per distinct message.
    if (err.message !== lastError) {
      lastError = err.message;
      logger.warn({ msg: `redis error: ${err.message}`, redis: where });
    }
  });
  client.on('ready', () => {
    if (lastError) logger.log({ msg: 'redis connection restored', redis: where });
    lastError = '';
  });
  if (client instanceof Cluster) {
    client.on('node error', (err: Error, node: string) => {
      const msg = `redis cluster node ${node}: ${err.message}`;
      if (msg !== lastError) {
        lastError = msg;
        logger.warn({ msg, redis: where });
      }
    });
  }
  return client;
}

/**
 * The client's per-command timeout (ms), wherever its kind keeps it; undefined when it has none.
 * Stores refuse a client without one: it is what bounds a call on a stalled connection.
 */
export function commandTimeoutOf(client: RedisClient): number | undefined {
  const t = client instanceof Cluster ? client.options.redisOptions?.commandTimeout : client.options.commandTimeout;
  return typeof t === 'number' && t > 0 ? t : undefined;
}

/**
 * Why a client would let a request wait on Redis, or undefined when it would not: it must fail
 * commands at once while disconnected (`enableOfflineQueue: false`) and time them out
 * (`commandTimeout`), as `createRedisClient` makes them.
 */
export function unboundedClientProblem(client: RedisClient): string | undefined {
  if (client.options.enableOfflineQueue !== false) return 'an ioredis client with enableOfflineQueue: false';
  if (commandTimeoutOf(client) === undefined) return 'an ioredis client with a positive commandTimeout';
  return undefined;
}

const CLUSTER_SLOTS = 16384;

/**
 * Resolves when Redis can serve every key again: PING on one server or master. On a cluster, one
 * random node answering says nothing about the slots of a master that just failed (a use that
 * recovered on it would fail again at its next call), so it checks that every slot in the client's
 * map has a master the client is connected to, that every such master answers PING, and that the
 * cluster reports itself whole (`cluster_state:ok`).
 */
export async function pingRedis(client: RedisClient): Promise<void> {
  if (!(client instanceof Cluster)) {
    await client.ping();
    return;
  }
  const masters = client.nodes('master');
  if (masters.length === 0) throw new Error('no cluster master known');
  const known = new Set(masters.map((n) => `${n.options.host}:${n.options.port}`));
  for (let slot = 0; slot < CLUSTER_SLOTS; slot++) {
    const master = client.slots[slot]?.[0];
    if (master === undefined || !known.has(master)) {
      // The map may be older than a failover that already happened: ask for a fresh one now rather
      // than at the next periodic refresh, so the next probe can see it.
      client.refreshSlotsCache();
      throw new Error(`cluster slot ${slot} has no reachable master (${master ?? 'none'})`);
    }
  }
  const [info] = await Promise.all([masters[0].cluster('INFO'), ...masters.map((node) => node.ping())]);
  if (!/^cluster_state:ok\r?$/m.test(String(info))) throw new Error('cluster_state is not ok');
}

/** Waits until the client is ready or `timeoutMs` passes; never throws (boot goes on degraded). */
export function waitUntilReady(client: RedisClient, timeoutMs: number): Promise<boolean> {
  if (client.status === 'ready') return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      client.off('ready', onReady);
      resolve(false);
    }, timeoutMs);
    const onReady = () => {
      clearTimeout(timer);
      resolve(true);
    };
    client.once('ready', onReady);
  });
}
