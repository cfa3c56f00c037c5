import { Counter, Gauge, type Registry } from '@ml/metrics';
import type { CircuitBreaker, CircuitState } from '@ml/resilience';
import type { ScoringOutcome } from './transaction.scorer';

const BREAKER_STATE: Record<CircuitState, number> = { closed: 0, 'half-open': 1, open: 2 };

/** The detector's own series, beside the shared prediction metrics. */
export class AnomalyMetrics {
  readonly degraded: Counter<'model'>;
  readonly flagged: Counter<'model'>;
  readonly foldSkipped: Counter<'reason'>;
  readonly casConflicts: Counter<'store'>;
  readonly storeDegraded: Gauge<'store'>;
  readonly breakerState: Gauge<'upstream'>;

  constructor(registry: Registry) {
    const registers = [registry];
    this.degraded = new Counter({
      name: 'ml_anomaly_degraded_total',
      help: 'Transactions scored on population features only because customer history was unavailable',
      labelNames: ['model'],
      registers,
    });
    this.flagged = new Counter({
      name: 'ml_anomaly_flagged_total',
      help: 'Transactions answered with is_anomaly = true',
      labelNames: ['model'],
      registers,
    });
    this.foldSkipped = new Counter({
      name: 'ml_profile_fold_skipped_total',
      help: 'Scored transactions not folded into customer history, by reason (unavailable: store down; conflict: compare-and-set retries exhausted)',
      labelNames: ['reason'],
      registers,
    });
    this.casConflicts = new Counter({
      name: 'ml_profile_cas_conflicts_total',
      help: 'Profile write-backs that met a concurrent write and were re-applied',
      labelNames: ['store'],
      registers,
    });
    this.storeDegraded = new Gauge({
      name: 'ml_profile_store_degraded',
      help: '1 while the customer history store is unavailable',
      labelNames: ['store'],
      registers,
    });
    this.breakerState = new Gauge({
      name: 'ml_circuit_breaker_state',
      help: 'Circuit breaker: 0 closed, 1 half-open, 2 open',
      labelNames: ['upstream'],
      registers,
    });
    for (const reason of ['unavailable', 'conflict']) this.foldSkipped.inc({ reason }, 0);
  }

  record(model: string, store: string, o: ScoringOutcome) {
    if (o.degraded) this.degraded.inc({ model }, o.degraded);
    if (o.flagged) this.flagged.inc({ model }, o.flagged);
    if (o.foldSkipped.unavailable) this.foldSkipped.inc({ reason: 'unavailable' }, o.foldSkipped.unavailable);
    if (o.foldSkipped.conflict) this.foldSkipped.inc({ reason: 'conflict' }, o.foldSkipped.conflict);
    if (o.conflicts) this.casConflicts.inc({ store }, o.conflicts);
  }

  watchBreaker(breaker: CircuitBreaker) {
    this.breakerState.set({ upstream: breaker.name }, BREAKER_STATE[breaker.state]);
    breaker.onStateChange((e) => this.breakerState.set({ upstream: e.name }, BREAKER_STATE[e.to]));
  }
}
