import { DynamicModule, Module } from '@nestjs/common';
import { FallbackStore, MemoryStore, PredictionCache, RedisStore, type CacheStore } from '@ml/cache';
import { LifecycleService } from '@ml/health';
import { Counter, Gauge, METRICS_REGISTRY, type Registry } from '@ml/metrics';
import { CircuitBreaker } from '@ml/resilience';
import { RateLimitService } from '@ml/rate-limit';
import type { RedisClient } from '@ml/redis';
import type { GatewaySettings } from './gateway.config';
import { GATEWAY_CACHE, GATEWAY_OPTIONS, GATEWAY_REDIS_STATUS, GATEWAY_SETTINGS, UPSTREAMS } from './gateway.constants';
import { gatewayAdmission } from './gateway.admission';
import { GatewayService, MODEL_NAMES, type ModelName } from './gateway.service';
import { MonitoringController } from './monitoring.controller';
import { OipProxyController } from './oip.proxy.controller';
import { PredictController, type GatewayOptions } from './predict.controller';
import { PredictDirectRoutes } from './predict.direct';
import { UpstreamClient } from './upstream.client';

const BREAKER_STATE = { closed: 0, 'half-open': 1, open: 2 } as const;

export interface GatewayApiOptions {
  settings: GatewaySettings;
  options: GatewayOptions;
  /** Shared Redis for the prediction cache; absent = in-process cache. */
  redis?: RedisClient;
}

function makeUpstreams(settings: GatewaySettings, registry: Registry, requestTimeoutMs: number): Record<ModelName, UpstreamClient> {
  const state = new Gauge({ name: 'ml_circuit_breaker_state', help: 'Upstream circuit breaker: 0 closed, 1 half-open, 2 open', labelNames: ['upstream'], registers: [registry] });
  const retries = new Counter({ name: 'ml_upstream_retries_total', help: 'Upstream calls retried', labelNames: ['upstream'], registers: [registry] });
  const rejected = new Counter({ name: 'ml_upstream_rejected_total', help: 'Calls refused at once by an open breaker', labelNames: ['upstream'], registers: [registry] });
  const failures = new Counter({ name: 'ml_upstream_failures_total', help: 'Failed upstream calls by kind', labelNames: ['upstream', 'kind'], registers: [registry] });
  const endpoints = endpointMetrics(registry);
  const out = {} as Record<ModelName, UpstreamClient>;
  for (const name of MODEL_NAMES) {
    const u = new UpstreamClient(name, settings.upstreams[name], {
      breaker: settings.breaker,
      retry: settings.retry,
      connections: settings.upstreamConnections,
      endpoints: settings.endpoints,
      // Classifying text changes nothing at the classifier; scoring a transaction updates its
      // customer's history, so a request that may have arrived is never sent twice.
      retrySentRequests: name === 'intent-classifier',
      // A call that timed out with half the default deadline or the slow-call time behind it (whichever
      // is less) counts against the upstream; one cut short by a client's own tight deadline does not.
      timeoutCountsFromMs: Math.min(settings.breaker.slowCallMs, requestTimeoutMs / 2),
    });
    state.set({ upstream: name }, 0);
    u.breaker.onStateChange((e) => state.set({ upstream: name }, BREAKER_STATE[e.to]));
    u.breaker.onRejected(() => rejected.inc({ upstream: name }));
    u.breaker.onFailure((e) => {
      const code = (e.error as { code?: string } | undefined)?.code;
      failures.inc({ upstream: name, kind: e.slow ? 'slow' : code === 'DEADLINE_EXCEEDED' ? 'timeout' : 'error' });
    });
    u.retry.onRetry(() => retries.inc({ upstream: name }));
    endpoints.observe(u);
    out[name] = u;
  }
  return out;
}

const ATTEMPT_OUTCOMES = ['success', 'failure', 'neutral'] as const;
const EJECT_REASONS = ['failures', 'not_ready'] as const;

/** Per-endpoint series; those of an endpoint DNS no longer returns are removed with it. */
function endpointMetrics(registry: Registry) {
  const labelNames = ['upstream', 'endpoint'] as const;
  const up = new Gauge({ name: 'ml_upstream_endpoint_up', help: 'Upstream endpoint in rotation (1) or ejected (0)', labelNames, registers: [registry] });
  const requests = new Counter({
    name: 'ml_upstream_endpoint_requests_total',
    help: 'Attempts sent to an upstream endpoint, by outcome (neutral: neither, e.g. cut short by the client deadline)',
    labelNames: [...labelNames, 'outcome'],
    registers: [registry],
  });
  const ejections = new Counter({ name: 'ml_upstream_endpoint_ejections_total', help: 'Upstream endpoint ejections by reason', labelNames: [...labelNames, 'reason'], registers: [registry] });
  return {
    observe(u: UpstreamClient) {
      const upstream = u.name;
      for (const e of u.pool.endpoints()) up.set({ upstream, endpoint: e.url }, e.state === 'up' ? 1 : 0);
      u.onAttempt((a) => requests.inc({ upstream, endpoint: a.endpoint, outcome: a.outcome }));
      u.pool.on((e) => {
        const endpoint = e.endpoint;
        if (e.type === 'added' || e.type === 'readmitted') up.set({ upstream, endpoint }, 1);
        else if (e.type === 'ejected') {
          up.set({ upstream, endpoint }, 0);
          ejections.inc({ upstream, endpoint, reason: e.reason });
        } else {
          up.remove({ upstream, endpoint });
          for (const outcome of ATTEMPT_OUTCOMES) requests.remove({ upstream, endpoint, outcome });
          for (const reason of EJECT_REASONS) ejections.remove({ upstream, endpoint, reason });
        }
      });
    },
  };
}

function makeCache(settings: GatewaySettings, registry: Registry, lifecycle: LifecycleService, redis?: RedisClient) {
  const memory = new MemoryStore({ max: settings.cache.maxSize });
  let store: CacheStore = memory;
  let fallback: FallbackStore | undefined;
  const degraded = new Gauge({ name: 'ml_redis_degraded', help: '1 while Redis is unavailable and state is kept per process', labelNames: ['use'], registers: [registry] });
  if (redis) {
    const breaker = new CircuitBreaker({ name: 'redis-cache', failureThreshold: 3, openMs: 2000, windowMs: 5000 });
    const primary = new RedisStore({ client: redis, keyPrefix: 'ml:pred:v1:', guard: (op) => breaker.execute(() => op()) });
    fallback = new FallbackStore({ primary, fallback: memory });
    fallback.onDegradedChange((c) => degraded.set({ use: 'cache' }, c.degraded ? 1 : 0));
    degraded.set({ use: 'cache' }, 0);
    store = fallback;
  }
  const cache = new PredictionCache({ name: 'predictions', store });
  const hits = new Counter({ name: 'ml_model_cache_hits_total', help: 'Prediction cache hits', labelNames: ['cache'], registers: [registry] });
  const misses = new Counter({ name: 'ml_model_cache_misses_total', help: 'Prediction cache misses', labelNames: ['cache'], registers: [registry] });
  cache.on('hit', (e) => hits.inc({ cache: e.cache }));
  cache.on('miss', (e) => misses.inc({ cache: e.cache }));
  const status = () =>
    redis ? { mode: 'redis', connection: redis.status, cache_degraded: fallback?.degraded ?? false } : { mode: 'memory' };
  lifecycle.addInfo('redis', status);
  return { cache, status };
}

/** Rate-limit rejections and degradation, as metrics and readiness details. */
function observeRateLimits(limiter: RateLimitService, registry: Registry, lifecycle: LifecycleService) {
  const rejections = new Counter({ name: 'ml_rate_limit_rejections_total', help: 'Requests refused by the rate limiter', labelNames: ['tracker'], registers: [registry] });
  const degraded = new Gauge({ name: 'ml_rate_limit_degraded', help: '1 while limits are kept per process because Redis is unavailable', registers: [registry] });
  limiter.onRejected((e) => rejections.inc({ tracker: e.kind }));
  limiter.onDegradedChange((d) => degraded.set(d ? 1 : 0));
  degraded.set(limiter.degraded ? 1 : 0);
  lifecycle.addInfo('rate_limit', () => ({ mode: limiter.mode, degraded: limiter.degraded }));
  return true;
}

/** The gateway's routes: predictions (validated, cached, forwarded), the protocol proxy, monitoring. */
@Module({})
export class GatewayApiModule {
  static forRoot({ settings, options, redis }: GatewayApiOptions): DynamicModule {
    return {
      module: GatewayApiModule,
      imports: [gatewayAdmission(settings.admission, options.requestTimeoutMs)],
      controllers: [PredictController, OipProxyController, MonitoringController],
      providers: [
        { provide: GATEWAY_SETTINGS, useValue: settings },
        { provide: GATEWAY_OPTIONS, useValue: options },
        { provide: UPSTREAMS, useFactory: (registry: Registry) => makeUpstreams(settings, registry, options.requestTimeoutMs), inject: [METRICS_REGISTRY] },
        {
          provide: 'GATEWAY_CACHE_BUNDLE',
          useFactory: (registry: Registry, lifecycle: LifecycleService) => makeCache(settings, registry, lifecycle, redis),
          inject: [METRICS_REGISTRY, LifecycleService],
        },
        { provide: GATEWAY_CACHE, useFactory: (b: ReturnType<typeof makeCache>) => b.cache, inject: ['GATEWAY_CACHE_BUNDLE'] },
        { provide: GATEWAY_REDIS_STATUS, useFactory: (b: ReturnType<typeof makeCache>) => b.status, inject: ['GATEWAY_CACHE_BUNDLE'] },
        GatewayService,
        PredictDirectRoutes,
        {
          provide: 'GATEWAY_RATE_LIMIT_OBSERVER',
          useFactory: observeRateLimits,
          inject: [RateLimitService, METRICS_REGISTRY, LifecycleService],
        },
      ],
      exports: [GatewayService],
    };
  }
}
