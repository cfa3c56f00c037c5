import type { UserProfile } from '@ml/anomaly-features';
import type { RedisBudget } from '@ml/redis';

/** A customer's profile as read, with the revision a later write must still find. */
export interface StoredProfile {
  /** 0 when nothing is stored for the customer. */
  readonly rev: number;
  /** Undefined for a new customer (or a stored value that is not a current profile). */
  readonly profile: UserProfile | undefined;
}

/** One customer's write-back: what was read, and how to turn any stored profile into the new one. */
export interface ProfileUpdate {
  readonly userId: string;
  /** What `load` returned for this customer. */
  readonly base: StoredProfile;
  /**
   * Builds the new profile from the stored one: it may fold into `current` in place (the store
   * hands it a profile that is written back or dropped, and read by nobody meanwhile) and
   * returns the profile to write, or undefined when there is nothing to write (only duplicate
   * transactions). Run again on whatever is stored when the revision moved in between (another
   * replica wrote), so it must only fold this update's transactions.
   */
  readonly apply: (current: UserProfile | undefined) => UserProfile | undefined;
}

export type FoldFailure = 'conflict' | 'unavailable';

export interface CommitResult {
  /** Customers whose profile was written. */
  written: number;
  /** Customers with nothing to write. */
  unchanged: number;
  /** Compare-and-set conflicts met (each one re-read and re-applied). */
  conflicts: number;
  /** Customers whose write was given up: retries exhausted, or the store failed. */
  failed: { userId: string; reason: FoldFailure }[];
}

export interface ProfileStoreStatus {
  mode: 'memory' | 'redis';
  /** True while the store cannot be used and requests are scored without history. */
  degraded: boolean;
  [detail: string]: unknown;
}

/**
 * Where customer history lives. Reads hand out profiles that must not be modified (fold them with
 * `foldTransaction`, which returns new objects), except by an update's `apply` inside `commit`;
 * writes are compare-and-set per customer so that concurrent replicas never lose each other's
 * transactions.
 */
export interface ProfileStore {
  readonly mode: 'memory' | 'redis';
  /**
   * Profiles of these customers in one round trip; rejects with ProfileStoreUnavailableError.
   * A shared store waits no longer than the request's `budget` allows (and not at all once it is
   * spent); a local one ignores it.
   */
  load(userIds: readonly string[], budget?: RedisBudget): Promise<Map<string, StoredProfile>>;
  /** Writes every update (compare-and-set, re-applied on conflict) within `budget`; never rejects. */
  commit(updates: readonly ProfileUpdate[], budget?: RedisBudget): Promise<CommitResult>;
  /** For readiness details and metrics; never throws. */
  status(): ProfileStoreStatus;
  /** Called with the new value whenever `status().degraded` changes. */
  onDegradedChange(listener: (degraded: boolean) => void): () => void;
  /** Stops background work; does not close clients it was given. */
  close(): Promise<void>;
}

export const NO_PROFILE: StoredProfile = Object.freeze({ rev: 0, profile: undefined });
