import { computeFeatures, foldTransaction, type FeatureVector, type TransactionInput, type UserProfile } from '@ml/anomaly-features';
import type { AnomalyPrediction } from '@ml/contracts';
import { performance } from 'node:perf_hooks';
import { isProfileStoreUnavailableError } from './anomaly.errors';
import { KeyedLock } from './keyed.lock';
import type { CommitResult, ProfileStore, ProfileUpdate, StoredProfile } from './profile.store';

/** What the scorer needs from the model (AnomalyDetector in production). */
export interface ScoringModel {
  scores(rows: Float32Array[], budgetMs: number): Promise<number[]>;
  present(tx: TransactionInput, features: FeatureVector, profile: UserProfile | undefined, score: number, degraded: boolean): AnomalyPrediction;
}

/** One scored request, for metrics. */
export interface ScoringOutcome {
  transactions: number;
  /** Answered without history because the store was unavailable. */
  degraded: number;
  /** is_anomaly = true. */
  flagged: number;
  /** Transactions not folded into history, by why. */
  foldSkipped: { unavailable: number; conflict: number };
  /** Compare-and-set conflicts met while writing back (each re-read and re-applied). */
  conflicts: number;
}

export interface TransactionScorerOptions {
  store: ProfileStore;
  model: ScoringModel;
  /** Per-customer serialisation in this process (shared by every scorer of the app). */
  locks?: KeyedLock;
  /** Monotonic milliseconds. */
  now?: () => number;
}

function eventTime(tx: TransactionInput): number {
  const t = Date.parse(tx.timestamp);
  return Number.isFinite(t) ? t : 0;
}

/**
 * Scores transactions against their customers' history and folds them in afterwards.
 *
 * Per request: take the customers' in-process locks (so a burst of one customer's transactions is
 * scored one after another, each seeing the previous ones), read every customer in one store round
 * trip, then walk the transactions in time order: features against the history so far, fold.
 * All rows go to the model together; the folded profiles are written back (compare-and-set per
 * customer, re-applied on a conflict with another replica) before the answer leaves. When the
 * store cannot be read, every transaction is scored on population features only, marked
 * `degraded` and not folded.
 */
export class TransactionScorer {
  private readonly store: ProfileStore;
  private readonly model: ScoringModel;
  private readonly locks: KeyedLock;
  private readonly now: () => number;
  private readonly listeners = new Set<(o: ScoringOutcome) => void>();

  constructor(options: TransactionScorerOptions) {
    this.store = options.store;
    this.model = options.model;
    this.now = options.now ?? (() => performance.now());
    this.locks = options.locks ?? new KeyedLock(this.now);
  }

  onOutcome(listener: (o: ScoringOutcome) => void) {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Predictions in the order of `txs`; each transaction sees the earlier ones (by time) of the same request. */
  async score(txs: readonly TransactionInput[], budgetMs: number): Promise<AnomalyPrediction[]> {
    if (txs.length === 0) return [];
    const deadline = this.now() + budgetMs;
    const times = txs.map(eventTime);
    const order = txs.map((_, i) => i).sort((a, b) => times[a] - times[b] || a - b);
    const users = [...new Set(txs.map((t) => t.user_id))];

    const release = await this.locks.acquire(users, budgetMs);
    try {
      let loaded: Map<string, StoredProfile> | undefined;
      try {
        loaded = await this.store.load(users);
      } catch (e) {
        if (!isProfileStoreUnavailableError(e)) throw e;
      }
      const degraded = loaded === undefined;

      const history = new Map<string, UserProfile | undefined>();
      for (const [id, stored] of loaded ?? []) history.set(id, stored.profile);
      const features: FeatureVector[] = new Array(txs.length);
      const before: (UserProfile | undefined)[] = new Array(txs.length);
      for (const i of order) {
        const tx = txs[i];
        const profile = degraded ? undefined : history.get(tx.user_id);
        before[i] = profile;
        features[i] = computeFeatures(profile, tx);
        if (!degraded) history.set(tx.user_id, foldTransaction(profile, tx));
      }

      const scores = await this.model.scores(
        features.map((f) => f.vector),
        Math.max(1, deadline - this.now()),
      );
      // Started before the answers are worded; awaited before they leave, so the customer's next
      // transaction (here or on another replica) sees this one.
      const committing = loaded ? this.store.commit(this.updates(txs, order, loaded, history)) : undefined;
      const predictions = txs.map((tx, i) => this.model.present(tx, features[i], before[i], scores[i], degraded));
      const committed = committing ? await committing : undefined;
      this.emit(this.outcome(txs, predictions, degraded, committed));
      return predictions;
    } finally {
      release();
    }
  }

  private updates(
    txs: readonly TransactionInput[],
    order: number[],
    loaded: Map<string, StoredProfile>,
    folded: Map<string, UserProfile | undefined>,
  ): ProfileUpdate[] {
    const byUser = new Map<string, TransactionInput[]>();
    for (const i of order) {
      const list = byUser.get(txs[i].user_id);
      if (list) list.push(txs[i]);
      else byUser.set(txs[i].user_id, [txs[i]]);
    }
    return [...byUser].map(([userId, list]) => {
      const base = loaded.get(userId) as StoredProfile;
      const mine = folded.get(userId) as UserProfile;
      return {
        userId,
        base,
        // The fold onto what was read is already done; on a conflict, replay onto what is stored now.
        apply: (current) => (current === base.profile ? mine : list.reduce<UserProfile | undefined>((p, tx) => foldTransaction(p, tx), current) as UserProfile),
      };
    });
  }

  private outcome(
    txs: readonly TransactionInput[],
    predictions: AnomalyPrediction[],
    degraded: boolean,
    committed: CommitResult | undefined,
  ): ScoringOutcome {
    const skipped = { unavailable: degraded ? txs.length : 0, conflict: 0 };
    if (committed) {
      for (const f of committed.failed) {
        const n = txs.reduce((c, tx) => c + (tx.user_id === f.userId ? 1 : 0), 0);
        skipped[f.reason] += n;
      }
    }
    return {
      transactions: txs.length,
      degraded: degraded ? txs.length : 0,
      flagged: predictions.reduce((c, p) => c + (p.is_anomaly ? 1 : 0), 0),
      foldSkipped: skipped,
      conflicts: committed?.conflicts ?? 0,
    };
  }

  private emit(o: ScoringOutcome) {
    for (const l of this.listeners) {
      try {
        l(o);
      } catch {
        // metrics must never fail a prediction
      }
    }
  }
}
