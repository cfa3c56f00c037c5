import { Controller, DynamicModule, Get, Injectable, Module, OnModuleInit, Res } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { PrometheusModule } from '@willsoto/nestjs-prometheus';
import { elapsedSinceReceivedMs } from '@ml/contracts';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { Registry } from 'prom-client';
import { METRICS_REGISTRY } from './metrics.constants';
import { HttpMetrics } from './http.metrics';
import { PredictionMetrics } from './prediction.metrics';

export interface MetricsOptions {
  /** Stamped as the `service` label on every series. */
  service: string;
  /** Where the text exposition is served; default `/metrics`. */
  path?: string;
}

/** Serves one registry; made per module instance because the registry is per app. */
function metricsControllerFor(registry: Registry) {
  @Controller()
  class MetricsController {
    @Get()
    async index(@Res() reply: FastifyReply) {
      const text = await registry.metrics();
      reply.header('content-type', registry.contentType).header('cache-control', 'no-store').send(text);
    }
  }
  return MetricsController;
}

@Injectable()
class HttpMetricsHook implements OnModuleInit {
  constructor(
    private readonly adapterHost: HttpAdapterHost,
    private readonly http: HttpMetrics,
  ) {}

  onModuleInit() {
    const fastify = this.adapterHost.httpAdapter?.getInstance?.() as FastifyInstance | undefined;
    if (!fastify?.addHook) return;
    fastify.addHook('onResponse', (request, reply, done) => {
      // From when the server first saw the request (libs/server stamps it), not from Fastify's
      // routing: time queued behind other work on the event loop is the client's time too.
      const ms = elapsedSinceReceivedMs(request.raw) ?? reply.elapsedTime;
      this.http.observe(request.method, request.routeOptions?.url, reply.statusCode, ms / 1000);
      done();
    });
  }
}

/**
 * Prometheus metrics on a registry this app owns: Node.js process metrics, HTTP durations by
 * route, and the prediction metrics of the contract. Each `forRoot` makes a fresh registry, so
 * two apps in one process (tests) never share series.
 */
@Module({})
export class MetricsModule {
  static forRoot(options: MetricsOptions): DynamicModule {
    const registry = new Registry();
    registry.setDefaultLabels({ service: options.service });
    return {
      module: MetricsModule,
      imports: [
        PrometheusModule.register({
          path: options.path ?? '/metrics',
          controller: metricsControllerFor(registry),
          defaultMetrics: { enabled: true, config: { register: registry } },
        }),
      ],
      providers: [
        { provide: METRICS_REGISTRY, useValue: registry },
        { provide: HttpMetrics, useFactory: () => new HttpMetrics(registry) },
        { provide: PredictionMetrics, useFactory: () => new PredictionMetrics(registry) },
        { provide: HttpMetricsHook, useClass: HttpMetricsHook },
      ],
      exports: [METRICS_REGISTRY, HttpMetrics, PredictionMetrics],
    };
  }
}
