import { ConfigError, env, loadEnv, type Env } from '@ml/config';

export interface RedisConfig {
  /** Unset = embedded mode: the caller keeps its state in memory. */
  url: string | undefined;
  /** Longest a single Redis command may take before it counts as failed. */
  commandTimeoutMs: number;
  connectTimeoutMs: number;
}

/**
 * `REDIS_URL` wins; without it the original system's `REDIS_HOST`, `REDIS_PORT`, `REDIS_PASSWORD`
 * and `REDIS_DB` are honoured when `REDIS_HOST` is set.
 */
export function loadRedisConfig(source: Env = process.env): RedisConfig {
  const e = loadEnv(
    {
      REDIS_URL: env.optionalString(),
      REDIS_HOST: env.optionalString(),
      REDIS_PORT: env.port(6379),
      REDIS_PASSWORD: env.optionalString(),
      REDIS_DB: env.int(0, { min: 0, max: 15 }),
      REDIS_COMMAND_TIMEOUT_MS: env.int(250, { min: 1, max: 60_000 }),
      REDIS_CONNECT_TIMEOUT_MS: env.int(1000, { min: 1, max: 60_000 }),
    },
    source,
  );
  let url = e.REDIS_URL as string | undefined;
  if (url !== undefined) {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw new ConfigError('REDIS_URL', 'must be a redis:// or rediss:// URL');
    }
    if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:') throw new ConfigError('REDIS_URL', 'must be a redis:// or rediss:// URL');
  } else if (e.REDIS_HOST) {
    const auth = e.REDIS_PASSWORD ? `:${encodeURIComponent(e.REDIS_PASSWORD as string)}@` : '';
    url = `redis://${auth}${e.REDIS_HOST}:${e.REDIS_PORT}/${e.REDIS_DB}`;
  }
  return { url, commandTimeoutMs: e.REDIS_COMMAND_TIMEOUT_MS as number, connectTimeoutMs: e.REDIS_CONNECT_TIMEOUT_MS as number };
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
