import { hasFolded, normalizeTransaction, type FeatureSet, type FeatureVector, type NormalizedTx, type TransactionInput, type UserProfile } from '@ml/anomaly-features';
import type { AnomalyPrediction } from '@ml/contracts';
import { RedisBudget } from '@ml/redis';
import { performance } from 'node:perf_hooks';
import { isProfileStoreUnavailableError } from './anomaly.errors';
import { KeyedLock } from './keyed.lock';
import type { CommitResult, ProfileStore, ProfileUpdate, StoredProfile } from './profile.store';

/** What the scorer needs from the model (AnomalyDetector in production). */
export interface ScoringModel {
  /** The features (and profile version) the model was trained on. */
  readonly features: FeatureSet;
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
  /**
   * How long one request (single or batch) may wait on the store in total, reads and writes
   * together (REDIS_COMMAND_TIMEOUT_MS); unset = each store call bounded on its own.
   */
  redisBudgetMs?: number;
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
 * trip, then walk the transactions in time order: features against the history so far. All rows
 * go to the model together; once the answers are worded, each customer's transactions are folded
 * into the stored profile (in place: no copy of a profile per transaction) and written back
 * (compare-and-set per customer, re-applied on a conflict with another replica) before the
 * answer leaves. Nothing is folded when scoring fails. When the
 * store cannot be read, every transaction is scored on population features only, marked
 * `degraded` and not folded. With `redisBudgetMs` the request's reads and writes share one
 * RedisBudget: once it is spent the reads answer as an outage (degraded) and the writes are skipped.
 */
export class TransactionScorer {
  private readonly store: ProfileStore;
  private readonly model: ScoringModel;
  private readonly locks: KeyedLock;
  private readonly now: () => number;
  private readonly redisBudgetMs: number | undefined;
  private readonly listeners = new Set<(o: ScoringOutcome) => void>();

  constructor(options: TransactionScorerOptions) {
    this.store = options.store;
    this.model = options.model;
    this.now = options.now ?? (() => performance.now());
    this.locks = options.locks ?? new KeyedLock(this.now);
    this.redisBudgetMs = options.redisBudgetMs;
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
    // Charged only while a store call is pending: the model's time between the read and the
    // write-back is not a wait on Redis.
    const redisBudget = this.redisBudgetMs === undefined ? undefined : new RedisBudget(this.redisBudgetMs);
    try {
      let loaded: Map<string, StoredProfile> | undefined;
      try {
        loaded = await this.store.load(users, redisBudget);
      } catch (e) {
        if (!isProfileStoreUnavailableError(e)) throw e;
      }
      const degraded = loaded === undefined;

      // Features in time order, each against the history before it: a customer's first
      // transaction of the request reads the stored profile as it is; a later one reads a private
      // copy folded with the earlier ones (nothing stored changes before the answers are worded).
      const remaining = new Map<string, number>();
      for (const tx of txs) remaining.set(tx.user_id, (remaining.get(tx.user_id) ?? 0) + 1);
      const folded = new Map<string, UserProfile | undefined>();
      const features: FeatureVector[] = new Array(txs.length);
      const before: (UserProfile | undefined)[] = new Array(txs.length);
      for (const i of order) {
        const tx = txs[i];
        const user = tx.user_id;
        const profile = degraded ? undefined : folded.has(user) ? folded.get(user) : loaded?.get(user)?.profile;
        before[i] = profile;
        features[i] = this.model.features.compute(profile, tx);
        const left = (remaining.get(user) as number) - 1;
        remaining.set(user, left);
        if (!degraded && left > 0) folded.set(user, this.model.features.fold(profile, tx));
      }

      const scores = await this.model.scores(
        features.map((f) => f.vector),
        Math.max(1, deadline - this.now()),
      );
      const predictions = txs.map((tx, i) => this.model.present(tx, features[i], before[i], scores[i], degraded));
      // Written back before the answers leave, so the customer's next transaction (here or on
      // another replica) sees these ones.
      const committed = loaded ? await this.store.commit(this.updates(txs, order, features, loaded), redisBudget) : undefined;
      this.emit(this.outcome(txs, predictions, degraded, committed));
      return predictions;
    } finally {
      release();
    }
  }

  /** Per customer: fold this request's transactions, in time order, into the stored profile. */
  private updates(txs: readonly TransactionInput[], order: number[], features: FeatureVector[], loaded: Map<string, StoredProfile>): ProfileUpdate[] {
    const byUser = new Map<string, NormalizedTx[]>();
    for (const i of order) {
      const n = features[i].tx ?? normalizeTransaction(txs[i]);
      const list = byUser.get(txs[i].user_id);
      if (list) list.push(n);
      else byUser.set(txs[i].user_id, [n]);
    }
    const updates: ProfileUpdate[] = [];
    const set = this.model.features;
    for (const [userId, list] of byUser) {
      updates.push({
        userId,
        base: loaded.get(userId) as StoredProfile,
        apply: (current) => {
          let profile = current;
          let changed = false;
          for (const n of list) {
            if (hasFolded(profile, n.id)) continue;
            profile = set.foldInto(profile, n);
            changed = true;
          }
          return changed ? profile : undefined;
        },
      });
    }
    return updates;
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
