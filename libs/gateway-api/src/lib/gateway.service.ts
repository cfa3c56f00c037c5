import { Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { BatchScheduler } from '@ml/batching';
import { PredictionCache, predictionKey, type JsonValue } from '@ml/cache';
import type { AnomalyPrediction, IntentPrediction } from '@ml/contracts';
import { LifecycleService } from '@ml/health';
import { performance } from 'node:perf_hooks';
import { GATEWAY_CACHE, GATEWAY_SETTINGS, UPSTREAMS } from './gateway.constants';
import type { GatewaySettings } from './gateway.config';
import { ModelStats, type Outcome } from './stats';
import type { CallOptions, UpstreamClient, UpstreamResponse } from './upstream.client';

interface PendingIntent {
  query: string;
  requestId: string;
  deadlineAt: number;
}

/** The model services behind the gateway. */
export const MODEL_NAMES = ['intent-classifier', 'anomaly-detector'] as const;
export type ModelName = (typeof MODEL_NAMES)[number];

/** An upstream 4xx, passed through to the client unchanged (it is the client's request at fault). */
export class UpstreamClientError extends Error {
  constructor(readonly status: number, readonly body: unknown, readonly retryAfter?: string) {
    super(`upstream answered ${status}`);
  }
}

const outcomeOf = (e: unknown): Outcome => {
  const code = (e as { code?: string })?.code;
  if (e instanceof UpstreamClientError) return e.status === 503 ? 'rejected' : 'client_error';
  if (code === 'DEADLINE_EXCEEDED') return 'timeout';
  if (code === 'BREAKER_OPEN') return 'rejected';
  return 'upstream_error';
};

/**
 * The gateway's work per prediction: cache (intent only: anomaly answers depend on history),
 * forwarding with the request id and remaining deadline, and statistics.
 */
@Injectable()
export class GatewayService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('Gateway');
  readonly stats: Record<ModelName, ModelStats> = { 'intent-classifier': new ModelStats(), 'anomaly-detector': new ModelStats() };
  /** The model version each upstream serves, learnt from its metadata and answers; part of cache keys. */
  readonly versions: Partial<Record<ModelName, string>> = {};
  readonly upstreamReady: Record<ModelName, boolean> = { 'intent-classifier': false, 'anomaly-detector': false };
  private poller?: ReturnType<typeof setInterval>;
  private readonly coalescer: BatchScheduler<PendingIntent, IntentPrediction>;

  constructor(
    @Inject(UPSTREAMS) readonly upstreams: Record<ModelName, UpstreamClient>,
    @Inject(GATEWAY_CACHE) readonly cache: PredictionCache,
    @Inject(GATEWAY_SETTINGS) private readonly settings: GatewaySettings,
    lifecycle: LifecycleService,
  ) {
    this.coalescer = new BatchScheduler<PendingIntent, IntentPrediction>({
      name: 'intent-classifier',
      maxBatchSize: settings.coalesce.maxBatchSize,
      maxQueueDelayMs: 0,
      maxQueueSize: settings.coalesce.maxQueueSize,
      concurrency: settings.coalesce.concurrency,
      run: (items) => this.sendIntents(items),
    });
    lifecycle.addInfo('upstreams', () =>
      Object.fromEntries(
        Object.entries(this.upstreams).map(([name, u]) => {
          const eps = u.pool.endpoints();
          return [
            name,
            {
              breaker: u.breaker.state,
              ready: this.upstreamReady[name as ModelName],
              version: this.versions[name as ModelName] ?? null,
              endpoints: { up: eps.filter((e) => e.state === 'up').length, total: eps.length },
            },
          ];
        }),
      ),
    );
  }

  /** Each upstream's state and that of its endpoints, for /monitoring/health. */
  upstreamHealth(name: ModelName) {
    const u = this.upstreams[name];
    const now = performance.now();
    return {
      breaker: u.breaker.state,
      ready: this.upstreamReady[name],
      version: this.versions[name] ?? null,
      endpoints: u.pool.endpoints().map((e) => ({
        url: e.url,
        state: e.state,
        ...(e.reason ? { reason: e.reason } : {}),
        ready: e.ready ?? null,
        pending: e.pending,
        consecutive_failures: e.consecutiveFailures,
        requests: e.requests,
        failures: e.failures,
        ejections: e.ejections,
        since_seconds: Math.round((now - e.sinceMs) / 100) / 10,
      })),
    };
  }

  onApplicationBootstrap() {
    for (const u of Object.values(this.upstreams)) void u.start();
    void this.poll();
    this.poller = setInterval(() => void this.poll(), this.settings.pollIntervalMs);
    this.poller.unref();
  }

  async onApplicationShutdown() {
    if (this.poller) clearInterval(this.poller);
    await Promise.all(Object.values(this.upstreams).map((u) => u.close()));
  }

  /** Upstream readiness and model versions, for monitoring; never gates this gateway's readiness. */
  async poll() {
    await Promise.all(
      (Object.keys(this.upstreams) as ModelName[]).map(async (name) => {
        const u = this.upstreams[name];
        // Every endpoint's readiness: one that fails it (draining, not warmed) is taken out of rotation.
        const ready = await u.pollEndpoints('/health/ready');
        this.upstreamReady[name] = ready;
        // The upstream says it is ready again: probe it now instead of waiting out the recovery
        // timeout (which stays the upper bound when polls fail or no poll happens).
        if (ready && u.breaker.state === 'open') u.breaker.probeNow();
        const meta = await u.probe(`/v2/models/${name}`);
        const versions = (meta.body as { versions?: string[] } | undefined)?.versions;
        if (meta.ok && versions?.[0] && versions[0] !== this.versions[name]) {
          this.logger.log({ msg: `${name} serves version ${versions[0]}` });
          this.versions[name] = versions[0];
        }
      }),
    );
  }

  async intent(query: string, call: CallOptions): Promise<IntentPrediction> {
    const [result] = await this.classify([query], call);
    return result;
  }

  intentBatch(queries: string[], call: CallOptions): Promise<IntentPrediction[]> {
    return this.classify(queries, call);
  }

  /**
   * Each query is answered from the cache or joins the upstream call already running for it
   * (single-flight); the rest are coalesced with other requests' queries into batch calls.
   */
  private async classify(queries: string[], call: CallOptions): Promise<IntentPrediction[]> {
    const started = performance.now();
    const stats = this.stats['intent-classifier'];
    const deadlineAt = started + call.budgetMs;
    try {
      const version = this.versions['intent-classifier'];
      const results = await Promise.all(
        queries.map(async (query): Promise<IntentPrediction> => {
          const compute = () => this.coalescer.submit({ query, requestId: call.requestId, deadlineAt }, deadlineAt);
          if (!version) return { ...(await compute()), cached: false };
          // The model lower-cases text first, so case never changes its answer; nothing else is normalised.
          const key = predictionKey('intent-classifier', version, query.toLowerCase());
          const { value, cached } = await this.cache.getOrCompute(key, compute as () => Promise<JsonValue & IntentPrediction>, this.settings.cache.ttlMs, call.redisBudget);
          return { ...(value as IntentPrediction), cached };
        }),
      );
      stats.record('success', (performance.now() - started) / 1000);
      for (const r of results) stats.observe(r.intent, r.confidence);
      return results;
    } catch (e) {
      stats.record(outcomeOf(e), (performance.now() - started) / 1000);
      throw e;
    }
  }

  /** One upstream call for queries gathered from concurrent requests (a lone query goes as itself). */
  private async sendIntents(items: PendingIntent[]): Promise<IntentPrediction[]> {
    const budgetMs = Math.max(1, Math.max(...items.map((i) => i.deadlineAt)) - performance.now());
    const call = { requestId: items[0].requestId, budgetMs };
    let predictions: IntentPrediction[];
    if (items.length === 1) {
      predictions = [await this.forward<IntentPrediction>('intent-classifier', '/predict/intent', { query: items[0].query }, call)];
    } else {
      const res = await this.forward<{ predictions: IntentPrediction[] }>('intent-classifier', '/predict/intent/batch', { queries: items.map((i) => i.query) }, call);
      predictions = res.predictions;
    }
    const v = predictions[0]?.model?.version;
    if (v && v !== this.versions['intent-classifier']) this.versions['intent-classifier'] = v;
    return predictions;
  }

  /** Anomaly answers depend on each customer's history: forwarded, never cached. */
  async anomaly<T extends AnomalyPrediction | { predictions: AnomalyPrediction[] }>(path: string, body: unknown, call: CallOptions): Promise<T> {
    const started = performance.now();
    const stats = this.stats['anomaly-detector'];
    try {
      const res = await this.forward<T>('anomaly-detector', path, body, call);
      stats.record('success', (performance.now() - started) / 1000);
      const items = 'predictions' in res ? res.predictions : [res as AnomalyPrediction];
      for (const p of items) stats.observe(p.is_anomaly ? 'anomaly' : 'normal', p.score);
      return res;
    } catch (e) {
      stats.record(outcomeOf(e), (performance.now() - started) / 1000);
      throw e;
    }
  }

  /** Raw pass-through for the Open Inference Protocol routes (status and body kept). */
  proxy(model: ModelName, method: 'GET' | 'POST', path: string, body: unknown, call: CallOptions): Promise<UpstreamResponse> {
    return this.upstreams[model].call(method, path, body, call);
  }

  private async forward<T>(model: ModelName, path: string, body: unknown, call: CallOptions): Promise<T> {
    const res = await this.upstreams[model].call<T>('POST', path, body, call);
    if (res.status >= 400) throw new UpstreamClientError(res.status, res.body, res.retryAfter);
    return res.body;
  }
}
