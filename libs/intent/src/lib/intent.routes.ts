import { Injectable, type OnModuleInit } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { IntentBatchDto, IntentQueryDto, validateBody, type IntentPrediction } from '@ml/contracts';
import { servePredictionRoutes } from '@ml/inference';
import { PredictionMetrics } from '@ml/metrics';
import { IntentService } from './intent.service';

/**
 * `POST /predict/intent` and `POST /predict/intent/batch`, as plain Fastify routes inside the Nest
 * app (see `servePredictionRoutes`); bodies are validated with the shared class-validator DTOs.
 */
@Injectable()
export class IntentRoutes implements OnModuleInit {
  constructor(
    private readonly adapterHost: HttpAdapterHost,
    private readonly service: IntentService,
    private readonly metrics: PredictionMetrics,
  ) {}

  onModuleInit() {
    servePredictionRoutes(this.adapterHost, {
      '/predict/intent': (body, budgetMs) => this.one(body, budgetMs),
      '/predict/intent/batch': (body, budgetMs) => this.batch(body, budgetMs),
    }, { requestTimeoutMs: this.service.requestTimeoutMs });
  }

  async one(body: unknown, budgetMs: number): Promise<IntentPrediction> {
    const dto = this.validate(IntentQueryDto, body);
    const [prediction] = await this.service.get().classify([dto.query], budgetMs);
    return prediction;
  }

  async batch(body: unknown, budgetMs: number): Promise<{ predictions: IntentPrediction[] }> {
    const dto = this.validate(IntentBatchDto, body);
    const predictions = await this.service.get().classify(dto.queries, budgetMs);
    return { predictions };
  }

  private validate<T extends object>(dto: new () => T, body: unknown): T {
    return validateBody(dto, body, () => this.metrics.invalidInput.inc({ model: this.service.files.name, error: 'validation' }));
  }
}
