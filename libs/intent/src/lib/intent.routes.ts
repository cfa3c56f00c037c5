import { Injectable, type OnModuleInit } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { IntentBatchDto, IntentQueryDto, REQUEST_TIMEOUT_HEADER, requestBudgetMs, validateBody, type IntentPrediction } from '@ml/contracts';
import { PredictionMetrics } from '@ml/metrics';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { IntentService } from './intent.service';

const headerOf = (request: FastifyRequest, name: string) => {
  const value = request.headers[name];
  return Array.isArray(value) ? value[0] : value;
};

/**
 * `POST /predict/intent` and `POST /predict/intent/batch`, served as plain Fastify routes inside the
 * Nest app: the hottest paths skip Nest's router (guards, pipes, interceptors, execution context),
 * which cost about as much per request as the rest of the pipeline. Everything else is the same as
 * for any route: the app's Fastify hooks (request id, security headers, access log, HTTP metrics,
 * in-flight tracking for graceful drain), its JSON parser and body limits, and its error handler,
 * which hands errors to the app's exception filter (problem+json). Bodies are validated with the
 * shared class-validator DTOs, as everywhere.
 */
@Injectable()
export class IntentRoutes implements OnModuleInit {
  constructor(
    private readonly adapterHost: HttpAdapterHost,
    private readonly service: IntentService,
    private readonly metrics: PredictionMetrics,
  ) {}

  onModuleInit() {
    const fastify = this.adapterHost.httpAdapter.getInstance<FastifyInstance>();
    fastify.post('/predict/intent', (request) => this.one(request.body, headerOf(request, REQUEST_TIMEOUT_HEADER)));
    fastify.post('/predict/intent/batch', (request) => this.batch(request.body, headerOf(request, REQUEST_TIMEOUT_HEADER)));
  }

  async one(body: unknown, timeout?: string): Promise<IntentPrediction> {
    const dto = this.validate(IntentQueryDto, body);
    const [prediction] = await this.service.get().classify([dto.query], requestBudgetMs(timeout, this.service.requestTimeoutMs));
    return prediction;
  }

  async batch(body: unknown, timeout?: string): Promise<{ predictions: IntentPrediction[] }> {
    const dto = this.validate(IntentBatchDto, body);
    const predictions = await this.service.get().classify(dto.queries, requestBudgetMs(timeout, this.service.requestTimeoutMs));
    return { predictions };
  }

  private validate<T extends object>(dto: new () => T, body: unknown): T {
    return validateBody(dto, body, () => this.metrics.invalidInput.inc({ model: this.service.files.name, error: 'validation' }));
  }
}
