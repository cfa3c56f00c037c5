export { MAX_VALIDATION_DEPTH, validateBody } from './lib/validation';
export {
  IntentBatchDto,
  IntentQueryDto,
  MAX_BATCH_ITEMS,
  MAX_QUERY_LENGTH,
  queryProblem,
  type IntentCandidate,
  type IntentPrediction,
} from './lib/intent.dto';
export {
  REQUEST_TIMEOUT_HEADER,
  elapsedSinceReceivedMs,
  markReceived,
  receivedAt,
  remainingBudgetMs,
  requestBudgetMs,
} from './lib/deadline';
export {
  CHANNELS,
  DEFAULT_MAX_AMOUNT,
  GeoPointDto,
  MERCHANT_CATEGORIES,
  TransactionBatchDto,
  TransactionDto,
  transactionRuleProblems,
  type AnomalyPrediction,
  type Channel,
  type MerchantCategory,
  type TransactionRules,
} from './lib/transaction.dto';
