import { Body, Controller, Headers, HttpCode, Post } from '@nestjs/common';
import { IntentBatchDto, IntentQueryDto, REQUEST_TIMEOUT_HEADER, requestBudgetMs, validateBody, type IntentPrediction } from '@ml/contracts';
import { isValidationFailedError } from '@ml/errors';
import { PredictionMetrics } from '@ml/metrics';
import { IntentService } from './intent.service';

@Controller('predict/intent')
export class IntentController {
  constructor(
    private readonly service: IntentService,
    private readonly metrics: PredictionMetrics,
  ) {}

  @Post()
  @HttpCode(200)
  async one(@Body() body: unknown, @Headers(REQUEST_TIMEOUT_HEADER) timeout?: string): Promise<IntentPrediction> {
    const dto = this.validate(IntentQueryDto, body);
    const [prediction] = await this.service.get().classify([dto.query], requestBudgetMs(timeout, this.service.requestTimeoutMs));
    return prediction;
  }

  @Post('batch')
  @HttpCode(200)
  async batch(@Body() body: unknown, @Headers(REQUEST_TIMEOUT_HEADER) timeout?: string): Promise<{ predictions: IntentPrediction[] }> {
    const dto = this.validate(IntentBatchDto, body);
    const predictions = await this.service.get().classify(dto.queries, requestBudgetMs(timeout, this.service.requestTimeoutMs));
    return { predictions };
  }

  private validate<T extends object>(dto: new () => T, body: unknown): T {
    try {
      return validateBody(dto, body);
    } catch (e) {
      if (isValidationFailedError(e)) this.metrics.invalidInput.inc({ model: this.service.files.name, error: 'validation' });
      throw e;
    }
  }
}
