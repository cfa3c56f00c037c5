import { Body, Controller, Headers, HttpCode, Post } from '@nestjs/common';
import { REQUEST_TIMEOUT_HEADER, TransactionBatchDto, TransactionDto, requestBudgetMs, validateBody, type AnomalyPrediction } from '@ml/contracts';
import { ValidationFailedError } from '@ml/errors';
import { PredictionMetrics } from '@ml/metrics';
import { AnomalyService } from './anomaly.service';
import { transactionProblems } from './transaction.validation';

@Controller('predict/anomaly')
export class AnomalyController {
  constructor(
    private readonly service: AnomalyService,
    private readonly metrics: PredictionMetrics,
  ) {}

  @Post()
  @HttpCode(200)
  async one(@Body() body: unknown, @Headers(REQUEST_TIMEOUT_HEADER) timeout?: string): Promise<AnomalyPrediction> {
    const dto = this.validate(TransactionDto, body);
    this.checkRules([dto], (f) => f);
    const [prediction] = await this.service.score([dto], requestBudgetMs(timeout, this.service.requestTimeoutMs));
    return prediction;
  }

  /** 1..256 transactions in time order; each sees the earlier ones; one bad item rejects them all. */
  @Post('batch')
  @HttpCode(200)
  async batch(@Body() body: unknown, @Headers(REQUEST_TIMEOUT_HEADER) timeout?: string): Promise<{ predictions: AnomalyPrediction[] }> {
    const dto = this.validate(TransactionBatchDto, body);
    this.checkRules(dto.transactions, (f, i) => `transactions[${i}].${f}`);
    const predictions = await this.service.score(dto.transactions, requestBudgetMs(timeout, this.service.requestTimeoutMs));
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
