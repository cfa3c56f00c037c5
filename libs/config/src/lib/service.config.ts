import { loadEnv } from './config.loader';
import type { Env } from './config.types';
import { ConfigError } from './config.errors';
import { bool, bytes, fraction, int, oneOf, optionalString, port, string } from './config.vars';
import { parseTrustProxy } from './trust-proxy';

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/** Settings every HTTP service shares: where it listens, limits, deadlines, shutdown, logging. */
export interface ServiceConfig {
  port: number;
  host: string;
  production: boolean;
  bodyLimit: number;
  batchBodyLimit: number;
  requestTimeoutMs: number;
  shutdownDrainMs: number;
  shutdownDelayMs: number;
  logLevel: (typeof LOG_LEVELS)[number];
  /**
   * Stamp `request_id` on every line written during a request (an AsyncLocalStorage per request).
   * Off by default: on Node 20 it turns on promise hooks process-wide, ~9% of the gateway's
   * throughput; access-log and error lines carry the request id either way.
   */
  logRequestContext: boolean;
  /**
   * Share of successful, fast requests that get an access-log line, in (0, 1]; 1 = every request.
   * Errors (status >= 400) and slow requests are always logged.
   */
  accessLogSample: number;
  /** false = trust no proxy; a hop count; or the IPs/CIDRs whose X-Forwarded-For is believed. */
  trustProxy: false | string[];
  /**
   * Deepest nesting of arrays/objects a JSON body may have (400 past it). Our DTOs are at most 4
   * deep and an inference request's tensor adds its rank to 3; everything after the parser walks
   * bodies recursively, so depth is bounded where the text is read.
   */
  jsonMaxDepth: number;
  /** Node's limits on the whole request (body included), on its headers, and on an idle keep-alive socket. */
  http: { requestTimeoutMs: number; headersTimeoutMs: number; keepAliveTimeoutMs: number };
}

export function loadServiceConfig(defaultPort: number, env: Env = process.env): ServiceConfig {
  const e = loadEnv(
    {
      PORT: port(defaultPort),
      HOST: string('127.0.0.1'),
      NODE_ENV: string('development'),
      BODY_LIMIT: bytes('64kb'),
      BATCH_BODY_LIMIT: bytes('1mb'),
      REQUEST_TIMEOUT_MS: int(2000, { min: 1, max: 600_000 }),
      SHUTDOWN_DRAIN_MS: int(10_000, { min: 0, max: 600_000 }),
      SHUTDOWN_DELAY_MS: int(0, { min: 0, max: 600_000 }),
      LOG_LEVEL: oneOf(LOG_LEVELS, 'info'),
      LOG_REQUEST_CONTEXT: bool(false),
      ACCESS_LOG_SAMPLE: fraction(1),
      TRUST_PROXY: optionalString(),
      JSON_MAX_DEPTH: int(32, { min: 4, max: 256 }),
      HTTP_REQUEST_TIMEOUT_MS: int(30_000, { min: 100, max: 3_600_000 }),
      HTTP_HEADERS_TIMEOUT_MS: int(10_000, { min: 100, max: 3_600_000 }),
      // Longer than the gateway pool's idle timeout (10 s) and the usual load balancers' (60 s), so
      // the server is never the side that closes a socket a client is about to reuse.
      HTTP_KEEP_ALIVE_TIMEOUT_MS: int(65_000, { min: 1000, max: 3_600_000 }),
    },
    env,
  );
  // Node refuses a headers timeout longer than the request timeout; say so by name instead.
  if (e.HTTP_HEADERS_TIMEOUT_MS > e.HTTP_REQUEST_TIMEOUT_MS) {
    throw new ConfigError('HTTP_HEADERS_TIMEOUT_MS', `must not exceed HTTP_REQUEST_TIMEOUT_MS (${e.HTTP_REQUEST_TIMEOUT_MS})`);
  }
  return {
    port: e.PORT,
    host: e.HOST,
    production: e.NODE_ENV === 'production',
    bodyLimit: e.BODY_LIMIT,
    batchBodyLimit: Math.max(e.BATCH_BODY_LIMIT, e.BODY_LIMIT),
    requestTimeoutMs: e.REQUEST_TIMEOUT_MS,
    shutdownDrainMs: e.SHUTDOWN_DRAIN_MS,
    shutdownDelayMs: e.SHUTDOWN_DELAY_MS,
    logLevel: e.LOG_LEVEL,
    logRequestContext: e.LOG_REQUEST_CONTEXT,
    accessLogSample: e.ACCESS_LOG_SAMPLE,
    trustProxy: parseTrustProxy(e.TRUST_PROXY),
    jsonMaxDepth: e.JSON_MAX_DEPTH,
    http: {
      requestTimeoutMs: e.HTTP_REQUEST_TIMEOUT_MS,
      headersTimeoutMs: e.HTTP_HEADERS_TIMEOUT_MS,
      keepAliveTimeoutMs: e.HTTP_KEEP_ALIVE_TIMEOUT_MS,
    },
  };
}
