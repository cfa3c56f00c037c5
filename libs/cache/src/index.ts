export type {
  CacheStore,
  Clock,
  EvictionEvent,
  EvictionReason,
  Guard,
  JsonValue,
  ProbeableStore,
  Unsubscribe,
  WaitBudget,
} from './lib/cache.types';
export {
  CacheArgumentError,
  CacheUnavailableError,
  isCacheArgumentError,
  isCacheUnavailableError,
} from './lib/cache.errors';
export { canonicalJson, predictionKey } from './lib/cache.key';
export { MemoryStore, type MemoryStoreOptions } from './lib/memory.store';
export { RedisStore, type RedisStoreOptions } from './lib/redis.store';
export {
  FallbackStore,
  type DegradedChange,
  type FallbackStoreOptions,
} from './lib/fallback.store';
export {
  PredictionCache,
  type CacheResult,
  type CacheStats,
  type PredictionCacheEvents,
  type PredictionCacheOptions,
} from './lib/prediction.cache';
