import {
  FEATURES_V1,
  FEATURE_COUNT,
  type FeatureSet,
  type UserProfile,
} from '@ml/anomaly-features';
import { SCENARIOS, type SimConfig } from './sim.config';
import { simulate, type CustomerStream, type SimTransaction } from './simulator';

/** Rows of model input with labels, kept in flat typed arrays. */
export class Dataset {
  x: Float32Array;
  y: Uint8Array;
  w: Float32Array;
  /** Scenario index into SCENARIOS, -1 for legitimate transactions. */
  scenario: Int8Array;
  length = 0;

  constructor(
    readonly featureCount: number = FEATURE_COUNT,
    capacity = 1024,
  ) {
    this.x = new Float32Array(capacity * featureCount);
    this.y = new Uint8Array(capacity);
    this.w = new Float32Array(capacity);
    this.scenario = new Int8Array(capacity);
  }

  private grow(): void {
    const cap = this.y.length * 2;
    const x = new Float32Array(cap * this.featureCount);
    x.set(this.x);
    const y = new Uint8Array(cap);
    y.set(this.y);
    const w = new Float32Array(cap);
    w.set(this.w);
    const s = new Int8Array(cap);
    s.set(this.scenario);
    this.x = x;
    this.y = y;
    this.w = w;
    this.scenario = s;
  }

  push(vector: Float32Array, t: SimTransaction, weight = 1): void {
    if (this.length === this.y.length) this.grow();
    this.x.set(vector, this.length * this.featureCount);
    this.y[this.length] = t.fraud ? 1 : 0;
    this.w[this.length] = weight;
    this.scenario[this.length] = t.scenario
      ? SCENARIOS.indexOf(t.scenario)
      : -1;
    this.length++;
  }

  row(i: number): Float32Array {
    return this.x.subarray(i * this.featureCount, (i + 1) * this.featureCount);
  }

  positives(): number {
    let p = 0;
    for (let i = 0; i < this.length; i++) p += this.y[i];
    return p;
  }
}

/** What a replay hands to its visitor for every transaction of the observed period. */
export interface ReplayStep {
  readonly t: SimTransaction;
  /** Event day relative to the start of the observed period. */
  readonly day: number;
  /** Features scored against the history before this transaction. */
  readonly vector: Float32Array;
  readonly profile: UserProfile | undefined;
  readonly customer: number;
}

/**
 * Replays customers' streams the way the live detector sees them (each stream in the order the
 * detector receives it): score the transaction against the profile with `features`, then fold it
 * in. Transactions before `startMs` only build history.
 */
export function replayStreams(
  streams: Iterable<CustomerStream>,
  startMs: number,
  visit: (step: ReplayStep) => void,
  features: FeatureSet = FEATURES_V1,
): number {
  let folded = 0;
  let customer = 0;
  for (const stream of streams) {
    let profile: UserProfile | undefined;
    for (const t of stream.transactions) {
      if (t.ts >= startMs) {
        const { vector } = features.compute(profile, t.tx);
        visit({
          t,
          day: Math.floor((t.ts - startMs) / 86_400_000),
          vector,
          profile,
          customer,
        });
      }
      profile = features.fold(profile, t.tx);
      folded++;
    }
    customer++;
  }
  return folded;
}

/**
 * Replays every simulated customer's stream (arrival order). Warm-up transactions (before the
 * observed period) only build history.
 */
export function replay(
  cfg: SimConfig,
  visit: (step: ReplayStep) => void,
  customers = cfg.customers,
  features: FeatureSet = FEATURES_V1,
): number {
  return replayStreams(simulate(cfg, customers), Date.parse(cfg.start), visit, features);
}
