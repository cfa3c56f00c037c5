import { loadAdmissionSettings, type AdmissionSettings } from '@ml/admission';
import { ConfigError, env, loadEnv, type Env } from '@ml/config';
import { parseTargets, type Target } from '@ml/upstream-pool';

export interface BreakerSettings {
  failureThreshold: number;
  recoveryTimeoutMs: number;
  windowMs: number;
  failureRateThreshold: number;
  minimumCalls: number;
  slowCallMs: number;
  halfOpenMaxProbes: number;
}

/** How the gateway spreads calls over the endpoints of one upstream, and when it stops using one. */
export interface EndpointSettings {
  /** How often names are looked up again, ms; 0: never (each connection resolves the name itself). */
  dnsRefreshMs: number;
  /** Consecutive failed attempts that eject an endpoint. */
  ejectAfterFailures: number;
  /** Consecutive failed readiness polls that eject an endpoint. */
  ejectAfterFailedPolls: number;
  /** Consecutive good readiness polls that re-admit it. */
  readmitAfterPolls: number;
}

export interface GatewaySettings {
  /** Each upstream's configured URLs (one or more; a name may resolve to several endpoints). */
  upstreams: { 'intent-classifier': Target[]; 'anomaly-detector': Target[] };
  endpoints: EndpointSettings;
  /**
   * `redisUrl` (CACHE_REDIS_URL): a Redis of the cache's own, so cache entries are evicted there
   * (allkeys-lru) and never crowd out rate-limit counters; unset = the cache shares REDIS_URL's.
   */
  cache: { maxSize: number; ttlMs: number; redisUrl?: string };
  breaker: BreakerSettings;
  retry: { maxAttempts: number; baseDelayMs: number; budgetRatio: number };
  /** Connections per upstream pool. */
  upstreamConnections: number;
  /** Coalescing of concurrent intent queries into upstream batch calls. */
  coalesce: { maxBatchSize: number; concurrency: number; maxQueueSize: number };
  /** Load shedding at the front door, per model. */
  admission: AdmissionSettings;
  /** How often each upstream's readiness is polled, ms. */
  pollIntervalMs: number;
}

/** One URL or a comma-separated list of them; a bad item stops the boot naming the variable. */
function targetsOf(variable: string, value: string): Target[] {
  try {
    return parseTargets(value);
  } catch (err) {
    throw new ConfigError(variable, (err as Error).message);
  }
}

export function loadGatewaySettings(source: Env = process.env): GatewaySettings {
  const e = loadEnv(
    {
      INTENT_CLASSIFIER_URL: env.string('http://127.0.0.1:3001'),
      ANOMALY_DETECTOR_URL: env.string('http://127.0.0.1:3002'),
      CACHE_MAX_SIZE: env.int(1000, { min: 1, max: 10_000_000 }),
      CACHE_DEFAULT_TTL: env.int(3600, { min: 1, max: 30 * 24 * 3600 }),
      CACHE_REDIS_URL: env.optionalString(),
      CIRCUIT_BREAKER_FAILURE_THRESHOLD: env.int(5, { min: 1, max: 1_000_000 }),
      CIRCUIT_BREAKER_RECOVERY_TIMEOUT: env.number(60, { min: 0.01, max: 3600 }),
      CIRCUIT_BREAKER_WINDOW_MS: env.int(10_000, { min: 100, max: 3_600_000 }),
      CIRCUIT_BREAKER_FAILURE_RATE: env.number(0.5, { min: 0.01, max: 1 }),
      CIRCUIT_BREAKER_MIN_CALLS: env.int(20, { min: 1, max: 1_000_000 }),
      CIRCUIT_BREAKER_SLOW_CALL_MS: env.int(1500, { min: 1, max: 600_000 }),
      CIRCUIT_BREAKER_HALF_OPEN_PROBES: env.int(1, { min: 1, max: 1000 }),
      UPSTREAM_MAX_ATTEMPTS: env.int(3, { min: 1, max: 10 }),
      UPSTREAM_RETRY_BASE_MS: env.int(25, { min: 1, max: 10_000 }),
      UPSTREAM_RETRY_BUDGET: env.number(0.2, { min: 0, max: 1 }),
      UPSTREAM_CONNECTIONS: env.int(32, { min: 1, max: 1024 }),
      // Upstream calls no larger than one run of the intent app (its INFERENCE_MAX_BATCH, 16): a
      // call of 32 waited for two runs one after the other, and the requests that arrive together
      // after each answer moved through gateway, app and worker as one lump, each idle while
      // another worked. Calls of one run let the first answers flow back while the worker runs the
      // next (cache misses at c=32 +21-32%, at c=128 +9%; README Performance). Eight in flight keep
      // as many queries upstream as before at c=128 and share out over several replicas.
      GATEWAY_BATCH_MAX: env.int(16, { min: 1, max: 256 }),
      GATEWAY_BATCH_CONCURRENCY: env.int(8, { min: 1, max: 256 }),
      GATEWAY_QUEUE_MAX: env.int(4096, { min: 1, max: 1_000_000 }),
      UPSTREAM_POLL_INTERVAL_MS: env.int(2000, { min: 100, max: 600_000 }),
      UPSTREAM_DNS_REFRESH_MS: env.int(5000, { min: 0, max: 3_600_000 }),
      UPSTREAM_EJECT_FAILURES: env.int(3, { min: 1, max: 1000 }),
      UPSTREAM_EJECT_FAILED_POLLS: env.int(1, { min: 1, max: 1000 }),
      UPSTREAM_READMIT_POLLS: env.int(2, { min: 1, max: 1000 }),
    },
    source,
  );
  const cacheRedisUrl = e.CACHE_REDIS_URL as string | undefined;
  if (cacheRedisUrl !== undefined && !isRedisUrl(cacheRedisUrl)) throw new ConfigError('CACHE_REDIS_URL', 'must be a redis:// or rediss:// URL');
  return {
    upstreams: {
      'intent-classifier': targetsOf('INTENT_CLASSIFIER_URL', e.INTENT_CLASSIFIER_URL as string),
      'anomaly-detector': targetsOf('ANOMALY_DETECTOR_URL', e.ANOMALY_DETECTOR_URL as string),
    },
    endpoints: {
      dnsRefreshMs: e.UPSTREAM_DNS_REFRESH_MS as number,
      ejectAfterFailures: e.UPSTREAM_EJECT_FAILURES as number,
      ejectAfterFailedPolls: e.UPSTREAM_EJECT_FAILED_POLLS as number,
      readmitAfterPolls: e.UPSTREAM_READMIT_POLLS as number,
    },
    cache: {
      maxSize: e.CACHE_MAX_SIZE as number,
      ttlMs: (e.CACHE_DEFAULT_TTL as number) * 1000,
      ...(cacheRedisUrl === undefined ? {} : { redisUrl: cacheRedisUrl }),
    },
    breaker: {
      failureThreshold: e.CIRCUIT_BREAKER_FAILURE_THRESHOLD as number,
      recoveryTimeoutMs: (e.CIRCUIT_BREAKER_RECOVERY_TIMEOUT as number) * 1000,
      windowMs: e.CIRCUIT_BREAKER_WINDOW_MS as number,
      failureRateThreshold: e.CIRCUIT_BREAKER_FAILURE_RATE as number,
      minimumCalls: e.CIRCUIT_BREAKER_MIN_CALLS as number,
      slowCallMs: e.CIRCUIT_BREAKER_SLOW_CALL_MS as number,
      halfOpenMaxProbes: e.CIRCUIT_BREAKER_HALF_OPEN_PROBES as number,
    },
    retry: {
      maxAttempts: e.UPSTREAM_MAX_ATTEMPTS as number,
      baseDelayMs: e.UPSTREAM_RETRY_BASE_MS as number,
      budgetRatio: e.UPSTREAM_RETRY_BUDGET as number,
    },
    upstreamConnections: e.UPSTREAM_CONNECTIONS as number,
    coalesce: {
      maxBatchSize: e.GATEWAY_BATCH_MAX as number,
      concurrency: e.GATEWAY_BATCH_CONCURRENCY as number,
      maxQueueSize: e.GATEWAY_QUEUE_MAX as number,
    },
    admission: loadAdmissionSettings(source),
    pollIntervalMs: e.UPSTREAM_POLL_INTERVAL_MS as number,
  };
}

function isRedisUrl(text: string): boolean {
  try {
    const { protocol } = new URL(text);
    return protocol === 'redis:' || protocol === 'rediss:';
  } catch {
    return false;
  }
}
