import { ModelFormatError } from './features.errors';
import {
  FEATURE_NAMES,
  FEATURE_VERSION,
  computeNormalized,
  type FeatureVector,
} from './features.compute';
import {
  rankReasons,
  rankReasons2,
  type ExplainOptions,
  type Reason,
} from './features.explain';
import type { TransactionInput } from './features.types';
import {
  FEATURE_NAMES_2,
  FEATURE_VERSION_2,
  computeNormalized2,
} from './features.v2';
import {
  normalizeTransaction,
  type NormalizedTx,
} from './transaction.normalize';
import {
  PROFILE_VERSION,
  PROFILE_VERSION_2,
  foldInto,
  foldTransaction,
  isUserProfile,
  type ProfileVersion,
  type UserProfile,
} from './user-profile';

/**
 * Everything that must agree with the features a model was trained on: the feature code, the
 * per-customer profile it reads (and its storage version), and the reasons worded from its
 * contributions. A model's manifest names its `feature_version`; the service serves it with the
 * FeatureSet of that version, so an older model (a rollback) keeps its own features and profiles.
 */
export interface FeatureSet {
  readonly version: string;
  readonly names: readonly string[];
  readonly count: number;
  /** Profiles of this set are stored apart from other versions' (e.g. `v2:` in Redis keys). */
  readonly profileVersion: ProfileVersion;
  computeNormalized(
    profile: UserProfile | undefined,
    tx: NormalizedTx,
  ): FeatureVector;
  compute(
    profile: UserProfile | undefined,
    tx: TransactionInput,
  ): FeatureVector;
  /** foldTransaction making new profiles of this set's version. */
  fold(profile: UserProfile | undefined, tx: TransactionInput): UserProfile;
  /** foldInto making new profiles of this set's version. */
  foldInto(profile: UserProfile | undefined, tx: NormalizedTx): UserProfile;
  isProfile(x: unknown): x is UserProfile;
  rankReasons(
    contributions: ArrayLike<number>,
    features: FeatureVector,
    tx: TransactionInput,
    profile: UserProfile | undefined,
    options?: ExplainOptions,
  ): Reason[];
}

function featureSet(
  version: string,
  names: readonly string[],
  profileVersion: ProfileVersion,
  computeN: (p: UserProfile | undefined, tx: NormalizedTx) => FeatureVector,
  reasons: FeatureSet['rankReasons'],
): FeatureSet {
  return Object.freeze({
    version,
    names,
    count: names.length,
    profileVersion,
    computeNormalized: computeN,
    compute: (p: UserProfile | undefined, tx: TransactionInput) =>
      computeN(p, normalizeTransaction(tx)),
    fold: (p: UserProfile | undefined, tx: TransactionInput) =>
      foldTransaction(p, tx, profileVersion),
    foldInto: (p: UserProfile | undefined, tx: NormalizedTx) =>
      foldInto(p, tx, profileVersion),
    isProfile: (x: unknown): x is UserProfile =>
      isUserProfile(x, profileVersion),
    rankReasons: reasons,
  });
}

/** Version 1 (model 1.0.0): absolute and relative features over profile version 1. */
export const FEATURES_V1: FeatureSet = featureSet(
  FEATURE_VERSION,
  FEATURE_NAMES,
  PROFILE_VERSION,
  computeNormalized,
  rankReasons,
);

/** Version 2 (model 2.0.0): customer-relative features only, over profile version 2. */
export const FEATURES_V2: FeatureSet = featureSet(
  FEATURE_VERSION_2,
  FEATURE_NAMES_2,
  PROFILE_VERSION_2,
  computeNormalized2,
  rankReasons2,
);

export const FEATURE_SETS: Readonly<Record<string, FeatureSet>> = Object.freeze(
  {
    [FEATURES_V1.version]: FEATURES_V1,
    [FEATURES_V2.version]: FEATURES_V2,
  },
);

/** The feature set a model trained with `version` needs; ModelFormatError when this build has none. */
export function featureSetOf(version: unknown): FeatureSet {
  const set = typeof version === 'string' ? FEATURE_SETS[version] : undefined;
  if (!set) {
    throw new ModelFormatError(
      `feature version ${JSON.stringify(version)} is not one this build computes (${Object.keys(FEATURE_SETS).join(', ')})`,
    );
  }
  return set;
}
