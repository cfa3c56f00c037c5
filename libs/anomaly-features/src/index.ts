export type {
  Channel,
  GeoPoint,
  MerchantCategory,
  TransactionInput,
} from './lib/features.types';
export { CHANNELS, MERCHANT_CATEGORIES } from './lib/features.types';
export {
  FeatureInputError,
  ModelFormatError,
  isFeatureInputError,
  isModelFormatError,
} from './lib/features.errors';
export { FX_TO_USD } from './lib/fx.rates';
export type { AmountStats, Place, UserProfile } from './lib/user-profile';
export type { ProfileVersion } from './lib/user-profile';
export {
  PROFILE_VERSION,
  PROFILE_VERSION_2,
  foldInto,
  foldTransaction,
  hasFolded,
  isUserProfile,
} from './lib/user-profile';
export type { NormalizedTx } from './lib/transaction.normalize';
export { normalizeTransaction } from './lib/transaction.normalize';
export type { FeatureName, FeatureVector } from './lib/features.compute';
export {
  FEATURE_COUNT,
  FEATURE_NAMES,
  FEATURE_VERSION,
  computeFeatures,
} from './lib/features.compute';
export type {
  ExplainOptions,
  Reason,
  ReasonGroup,
} from './lib/features.explain';
export {
  REASON_GROUPS,
  REASON_GROUPS_2,
  explain,
  rankReasons,
  rankReasons2,
} from './lib/features.explain';
export type { FeatureName2 } from './lib/features.v2';
export {
  FEATURE_COUNT_2,
  FEATURE_NAMES_2,
  FEATURE_VERSION_2,
  computeNormalized2,
} from './lib/features.v2';
export type { FeatureSet } from './lib/feature-set';
export {
  FEATURES_V1,
  FEATURES_V2,
  FEATURE_SETS,
  featureSetOf,
} from './lib/feature-set';
export type {
  Contributions,
  TreeEnsembleJson,
  TreeJson,
} from './lib/tree-ensemble';
export { TREES_FORMAT, TreeEnsemble } from './lib/tree-ensemble';
