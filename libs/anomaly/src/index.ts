export { AnomalyModule, createProfileStore } from './lib/anomaly.module';
export { AnomalyService, type AnomalyOptions } from './lib/anomaly.service';
export { loadAnomalyConfig, type AnomalyConfig } from './lib/anomaly.config';
export { ANOMALY_INFERENCE_DEFAULTS, ANOMALY_MODEL_NAME, PROFILE_STORE } from './lib/anomaly.constants';
export { AnomalyDetector, POPULATION_ONLY, type ModelEvent } from './lib/anomaly.detector';
export { resolveAnomalyModel, verifyAnomalyModel, type AnomalyModelFiles } from './lib/anomaly.model';
export { TransactionScorer, type ScoringModel, type ScoringOutcome, type TransactionScorerOptions } from './lib/transaction.scorer';
export type { CommitResult, FoldFailure, ProfileStore, ProfileStoreStatus, ProfileUpdate, StoredProfile } from './lib/profile.store';
export { MemoryProfileStore, type MemoryProfileStoreOptions } from './lib/memory.profile-store';
export { RedisProfileStore, type RedisProfileStoreOptions } from './lib/redis.profile-store';
export { decodeProfile, encodeProfile } from './lib/profile.codec';
export {
  ProfileLockTimeoutError,
  ProfileStoreArgumentError,
  ProfileStoreUnavailableError,
  isProfileLockTimeoutError,
  isProfileStoreArgumentError,
  isProfileStoreUnavailableError,
} from './lib/anomaly.errors';
