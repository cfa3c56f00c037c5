import { Injectable, type OnModuleInit } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { TransactionBatchDto, TransactionDto, validateBody, type AnomalyPrediction } from '@ml/contracts';
import { ValidationFailedError } from '@ml/errors';
import { servePredictionRoutes } from '@ml/inference';
import { PredictionMetrics } from '@ml/metrics';
import { AnomalyService } from './anomaly.service';
import { transactionProblems } from './transaction.validation';

/**
 * `POST /predict/anomaly` and `POST /predict/anomaly/batch`, as plain Fastify routes inside the
 * Nest app (see `servePredictionRoutes`): the shared DTOs first, then the rules that need
 * configuration (maximum amount, future skew); nothing is scored or folded unless all of it holds.
 */
@Injectable()
export class AnomalyRoutes implements OnModuleInit {
  constructor(
    private readonly adapterHost: HttpAdapterHost,
    private readonly service: AnomalyService,
    private readonly metrics: PredictionMetrics,
  ) {}

  onModuleInit() {
    servePredictionRoutes(this.adapterHost, {
      '/predict/anomaly': (body, budgetMs) => this.one(body, budgetMs),
      '/predict/anomaly/batch': (body, budgetMs) => this.batch(body, budgetMs),
    }, { requestTimeoutMs: this.service.requestTimeoutMs });
  }

  async one(body: unknown, budgetMs: number): Promise<AnomalyPrediction> {
    const dto = this.validate(TransactionDto, body);
    this.checkRules([dto], (f) => f);
    const [prediction] = await this.service.score([dto], budgetMs);
    return prediction;
  }

  /** 1..256 transactions in time order; each sees the earlier ones; one bad item rejects them all. */
  async batch(body: unknown, budgetMs: number): Promise<{ predictions: AnomalyPrediction[] }> {
    const dto = this.validate(TransactionBatchDto, body);
    this.checkRules(dto.transactions, (f, i) => `transactions[${i}].${f}`);
    const predictions = await this.service.score(dto.transactions, budgetMs);
    return { predictions };
  }

  private validate<T extends object>(dto: new () => T, body: unknown): T {
    return validateBody(dto, body, () => this.metrics.invalidInput.inc({ model: this.service.files.name, error: 'validation' }));
  }

  private checkRules(txs: TransactionDto[], field: (f: string, i: number) => string) {
    const errors = transactionProblems(txs, this.service.transactionRules, field);
    if (errors.length) {
      this.metrics.invalidInput.inc({ model: this.service.files.name, error: 'rule' });
      throw new ValidationFailedError(errors);
    }
  }
}
