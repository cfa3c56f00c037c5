/**
 * Feature rows for the anomaly baseline, computed with the detector's own feature code.
 *
 * The bare server (anomaly-bare-server.ts) runs the ONNX model on feature vectors it is sent, so
 * for it to do the same model work as the app, its rows must be what the app computes for the same
 * traffic: customer by customer, in the order the app receives the transactions, the served model's
 * FeatureSet (`featureSetOf(manifest.feature_version)`, as the app picks it) computes against the
 * history so far, then folds the transaction into it. Any other implementation could drift from the
 * app's, so this is the one place a benchmark imports a workspace library.
 */
// The baseline must receive exactly the features the app computes; copying the feature code into
// the benchmark would let the two drift apart, so the library itself is imported.
import { featureSetOf, type FeatureSet, type UserProfile } from '@ml/anomaly-features';
import type { TransactionStream } from './transactions';

export { featureSetOf, type FeatureSet };

export interface PrecomputedTraffic {
  /** The feature version the rows were computed with (the served model's manifest names it). */
  featureVersion: string;
  /** Values per row. */
  featureCount: number;
  /** Transactions 0..count-1 of the stream as JSON (one `/predict/anomaly` body each). */
  transactions: string[];
  /** Their feature rows as JSON arrays (`[f0,...,f(F-1)]`), float32 values written exactly. */
  rows: string[];
  /** Customers seen, and how many transactions had no history yet. */
  customers: number;
  withoutHistory: number;
  /** Mean history length (transactions folded before) over the rows. */
  meanHistory: number;
}

/** A float32 value as decimal text that reads back as the same float32 (9 significant digits suffice). */
export function float32Text(value: number): string {
  return Number.isInteger(value) ? String(value) : String(Number(value.toPrecision(9)));
}

/**
 * Stream transactions 0..count-1 with their features under `features` (the FeatureSet of the model
 * the bare server serves), folding each customer's history in order with the same set.
 */
export function precompute(stream: TransactionStream, count: number, features: FeatureSet): PrecomputedTraffic {
  const profiles = new Map<string, UserProfile>();
  const transactions: string[] = new Array(count);
  const rows: string[] = new Array(count);
  let withoutHistory = 0;
  let history = 0;
  for (let k = 0; k < count; k++) {
    const tx = stream.at(k);
    const before = profiles.get(tx.user_id);
    const { vector } = features.compute(before, tx);
    if (vector.length !== features.count) throw new Error(`${features.version} computed ${vector.length} values, expected ${features.count}`);
    if (!before) withoutHistory++;
    history += before?.n ?? 0;
    profiles.set(tx.user_id, features.fold(before, tx));
    transactions[k] = JSON.stringify(tx);
    // join, not +=: concatenation would keep every row as a rope of 60 pieces in memory.
    rows[k] = `[${Array.from(vector, float32Text).join(',')}]`;
  }
  return {
    featureVersion: features.version,
    featureCount: features.count,
    transactions,
    rows,
    customers: profiles.size,
    withoutHistory,
    meanHistory: count ? history / count : 0,
  };
}
