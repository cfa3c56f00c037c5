import { Body, Controller, HttpCode, Inject, Post, Req, Res, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiHeader, ApiOkResponse, ApiOperation, ApiResponse, ApiSecurity, ApiTags } from '@nestjs/swagger';
import { RequiresScope } from '@ml/auth';
import {
  IntentBatchDto,
  IntentQueryDto,
  REQUEST_TIMEOUT_HEADER,
  TransactionBatchDto,
  TransactionDto,
  remainingBudgetMs,
  transactionRuleProblems,
  validateBody,
  type TransactionRules,
} from '@ml/contracts';
import { ValidationFailedError, isValidationFailedError } from '@ml/errors';
import { PredictionMetrics } from '@ml/metrics';
import { RateLimitCost, RateLimitGuard, batchCost } from '@ml/rate-limit';
import { redisBudgetOf } from '@ml/redis';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { GATEWAY_OPTIONS } from './gateway.constants';
import { GatewayService, UpstreamClientError, type ModelName } from './gateway.service';
import { IntentPredictionDoc, IntentBatchResponseDoc, AnomalyPredictionDoc, AnomalyBatchResponseDoc, ProblemDoc } from './openapi.docs';

export interface GatewayOptions {
  requestTimeoutMs: number;
  transactionRules: TransactionRules;
}

const ERRORS = [400, 401, 403, 413, 415, 422, 429, 502, 503, 504] as const;
const ErrorResponses = () => (target: object, key: string, descriptor: PropertyDescriptor) => {
  for (const status of ERRORS) ApiResponse({ status, type: ProblemDoc, description: 'application/problem+json' })(target, key, descriptor);
};

@ApiTags('predictions')
@ApiSecurity('api-key')
@ApiBearerAuth()
@ApiHeader({ name: 'X-Request-Id', required: false, description: 'Correlation id; echoed back, generated when absent or malformed' })
@ApiHeader({ name: 'X-Request-Timeout-Ms', required: false, description: 'Ask for a shorter deadline than the server default' })
@ApiResponse({ status: 429, type: ProblemDoc, description: 'Rate limited: Retry-After, RateLimit and RateLimit-Policy headers' })
@UseGuards(RateLimitGuard)
@RateLimitCost(batchCost('queries', 'transactions'))
@Controller('predict')
export class PredictController {
  constructor(
    private readonly gateway: GatewayService,
    private readonly metrics: PredictionMetrics,
    @Inject(GATEWAY_OPTIONS) private readonly options: GatewayOptions,
  ) {}

  @Post('intent')
  @HttpCode(200)
  @RequiresScope('intent-classifier')
  @ApiOperation({ summary: 'Classify one customer query into a banking intent' })
  @ApiBody({ type: IntentQueryDto })
  @ApiOkResponse({ type: IntentPredictionDoc })
  @ErrorResponses()
  intent(@Body() body: unknown, @Req() req: FastifyRequest, @Res({ passthrough: true }) reply: FastifyReply) {
    const dto = this.validate('intent-classifier', IntentQueryDto, body);
    return this.pass(reply, () => this.gateway.intent(dto.query, this.call(req)));
  }

  @Post('intent/batch')
  @HttpCode(200)
  @RequiresScope('intent-classifier')
  @ApiOperation({ summary: 'Classify 1..256 queries; a bad item rejects the whole batch' })
  @ApiBody({ type: IntentBatchDto })
  @ApiOkResponse({ type: IntentBatchResponseDoc })
  @ErrorResponses()
  async intentBatch(@Body() body: unknown, @Req() req: FastifyRequest, @Res({ passthrough: true }) reply: FastifyReply) {
    const dto = this.validate('intent-classifier', IntentBatchDto, body);
    return this.pass(reply, async () => ({ predictions: await this.gateway.intentBatch(dto.queries, this.call(req)) }));
  }

  @Post('anomaly')
  @HttpCode(200)
  @RequiresScope('anomaly-detector')
  @ApiOperation({ summary: "Score a card transaction against the customer's history and the population" })
  @ApiBody({ type: TransactionDto })
  @ApiOkResponse({ type: AnomalyPredictionDoc })
  @ErrorResponses()
  anomaly(@Body() body: unknown, @Req() req: FastifyRequest, @Res({ passthrough: true }) reply: FastifyReply) {
    const dto = this.validate('anomaly-detector', TransactionDto, body);
    this.checkRules('anomaly-detector', [dto], (f) => f);
    return this.pass(reply, () => this.gateway.anomaly('/predict/anomaly', body, this.call(req)));
  }

  @Post('anomaly/batch')
  @HttpCode(200)
  @RequiresScope('anomaly-detector')
  @ApiOperation({ summary: 'Score 1..256 transactions in time order; a bad item rejects the whole batch' })
  @ApiBody({ type: TransactionBatchDto })
  @ApiOkResponse({ type: AnomalyBatchResponseDoc })
  @ErrorResponses()
  anomalyBatch(@Body() body: unknown, @Req() req: FastifyRequest, @Res({ passthrough: true }) reply: FastifyReply) {
    const dto = this.validate('anomaly-detector', TransactionBatchDto, body);
    this.checkRules('anomaly-detector', dto.transactions, (f, i) => `transactions[${i}].${f}`);
    return this.pass(reply, () => this.gateway.anomaly('/predict/anomaly/batch', body, this.call(req)));
  }

  private call(req: FastifyRequest) {
    return {
      requestId: String(req.id),
      // Counted from the request's arrival: parsing, auth and validation are spent budget too.
      budgetMs: remainingBudgetMs(req.raw, req.headers[REQUEST_TIMEOUT_HEADER], this.options.requestTimeoutMs),
      redisBudget: redisBudgetOf(req),
    };
  }

  private validate<T extends object>(model: ModelName, dto: new () => T, body: unknown): T {
    try {
      return validateBody(dto, body);
    } catch (e) {
      if (isValidationFailedError(e)) this.metrics.invalidInput.inc({ model, error: 'validation' });
      throw e;
    }
  }

  private checkRules(model: ModelName, txs: TransactionDto[], field: (f: string, i: number) => string) {
    const errors = txs.flatMap((tx, i) => transactionRuleProblems(tx, this.options.transactionRules).map((p) => ({ field: field(p.field, i), message: p.message })));
    if (errors.length) {
      this.metrics.invalidInput.inc({ model, error: 'rule' });
      throw new ValidationFailedError(errors);
    }
  }

  /** Upstream 4xx answers go back to the client as they came (status and problem body). */
  private async pass<T>(reply: FastifyReply, fn: () => Promise<T>): Promise<T | unknown> {
    try {
      return await fn();
    } catch (e) {
      if (e instanceof UpstreamClientError) {
        if (e.retryAfter) reply.header('retry-after', e.retryAfter);
        reply.status(e.status).header('content-type', 'application/problem+json; charset=utf-8');
        return e.body;
      }
      throw e;
    }
  }
}
