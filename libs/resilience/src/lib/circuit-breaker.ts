import { BrokenCircuitError, TimeoutError, isTimeoutError, type RejectingState } from './resilience.errors';
import { Listeners } from './resilience.listeners';
import { systemClock, toContext } from './resilience.clock';
import { RollingWindow } from './rolling-window';
import type { CallContext, Clock, Listener, Operation, Policy, Unsubscribe } from './resilience.types';
import { nonNegative, positive, positiveInt, ratio } from './resilience.validate';

export type CircuitState = 'closed' | 'open' | 'half-open';

export interface CircuitBreakerOptions {
  /** Names the upstream in events and error messages. Default 'default'. */
  name?: string;
  /** Open when this many failures fall within the window. Default 5; `Infinity` disables the count rule. */
  failureThreshold?: number;
  /** Open when failures / calls within the window reach this ratio (0..1]. Off unless set. */
  failureRateThreshold?: number;
  /** The ratio rule applies only once the window holds at least this many calls. Default 10. */
  minimumCalls?: number;
  /** Length of the rolling window. Default 10 000 ms. */
  windowMs?: number;
  /** Time slices the window is kept in (its resolution). Default 10. */
  windowBuckets?: number;
  /** A call lasting at least this long counts as a failure, whatever its outcome. Off unless set. */
  slowCallMs?: number;
  /** How long the breaker stays open before it lets probes through. Default 30 000 ms. */
  openMs?: number;
  /** Probes allowed in flight at once while half-open; further calls are rejected. Default 1. */
  halfOpenMaxProbes?: number;
  /** Successful probes needed to close again. Default 1. */
  halfOpenSuccessesToClose?: number;
  /**
   * Whether an error is the upstream's fault. Errors for which it returns false (e.g. a client error
   * the upstream answered correctly) count as successes. Default: every error is a failure.
   */
  isFailure?: (error: unknown) => boolean;
  clock?: Clock;
}

export interface StateChangeEvent {
  name: string;
  from: CircuitState;
  to: CircuitState;
}
export interface RejectedEvent {
  name: string;
  state: RejectingState;
  retryAfterMs: number;
}
export interface SuccessEvent {
  name: string;
  durationMs: number;
  /** Set when the call threw an error that `isFailure` ruled neutral. */
  error?: unknown;
}
export interface FailureEvent {
  name: string;
  durationMs: number;
  /** Undefined for a slow call that otherwise succeeded. */
  error?: unknown;
  /** True when it counted as a failure because it was slow. */
  slow: boolean;
}

const CALLS = 0;
const FAILURES = 1;

/**
 * Per-upstream circuit breaker: closed -> open (failures in a rolling window) -> half-open (after
 * `openMs`, limited probes) -> closed (enough probe successes) or back to open (a failed probe).
 */
export class CircuitBreaker implements Policy {
  readonly name: string;
  private readonly failureThreshold: number;
  private readonly failureRateThreshold: number | undefined;
  private readonly minimumCalls: number;
  private readonly slowCallMs: number | undefined;
  private readonly openMs: number;
  private readonly halfOpenMaxProbes: number;
  private readonly halfOpenSuccessesToClose: number;
  private readonly isFailure: (error: unknown) => boolean;
  private readonly clock: Clock;
  private readonly window: RollingWindow;

  private current: CircuitState = 'closed';
  /** Bumped on every transition so results of calls admitted under an earlier state are ignored. */
  private generation = 0;
  private openedAt = 0;
  private isolated = false;
  private probesInFlight = 0;
  private probeSuccesses = 0;

  private readonly stateChange = new Listeners<StateChangeEvent>();
  private readonly rejected = new Listeners<RejectedEvent>();
  private readonly success = new Listeners<SuccessEvent>();
  private readonly failure = new Listeners<FailureEvent>();

  constructor(options: CircuitBreakerOptions = {}) {
    this.name = options.name ?? 'default';
    const threshold = options.failureThreshold ?? 5;
    this.failureThreshold = threshold === Infinity ? Infinity : positiveInt('failureThreshold', threshold);
    this.failureRateThreshold =
      options.failureRateThreshold === undefined ? undefined : ratio('failureRateThreshold', options.failureRateThreshold);
    this.minimumCalls = positiveInt('minimumCalls', options.minimumCalls ?? 10);
    this.slowCallMs = options.slowCallMs === undefined ? undefined : positive('slowCallMs', options.slowCallMs);
    this.openMs = nonNegative('openMs', options.openMs ?? 30_000);
    this.halfOpenMaxProbes = positiveInt('halfOpenMaxProbes', options.halfOpenMaxProbes ?? 1);
    this.halfOpenSuccessesToClose = positiveInt('halfOpenSuccessesToClose', options.halfOpenSuccessesToClose ?? 1);
    this.isFailure = options.isFailure ?? (() => true);
    this.clock = options.clock ?? systemClock;
    this.window = new RollingWindow(
      positive('windowMs', options.windowMs ?? 10_000),
      positiveInt('windowBuckets', options.windowBuckets ?? 10),
      2,
      this.clock,
    );
  }

  /** The current state. An open breaker whose `openMs` has passed reports 'open' until the next call probes it. */
  get state(): CircuitState {
    return this.current;
  }

  /**
   * Runs `fn` if the breaker admits it, otherwise rejects at once with BrokenCircuitError (or with
   * TimeoutError if the context's deadline has already passed, leaving the breaker untouched).
   */
  async execute<T>(fn: Operation<T>, ctx?: Partial<CallContext>): Promise<T> {
    const context = toContext(ctx);
    // Out of time before the upstream is even asked: fail without spending a probe slot or recording a failure.
    if (context.deadline?.expired) throw new TimeoutError(0, 'deadline');
    const generation = this.admit();
    const started = this.clock.now();
    let result: T;
    try {
      result = await fn(context);
    } catch (error) {
      // The caller gave up (client gone, shutdown): that says nothing about the upstream's health.
      // A timeout is different: the upstream was too slow, so it goes through isFailure like any error.
      if (context.signal.aborted && !isTimeoutError(context.signal.reason)) this.release(generation);
      else this.record(generation, started, this.isFailure(error), { error });
      throw error;
    }
    this.record(generation, started, false);
    return result;
  }

  /**
   * An open breaker lets the next call through as a probe at once (half-open), without waiting out
   * `openMs`: for when something outside the calls, such as a readiness check, says the upstream
   * has recovered. `openMs` stays the upper bound. Does nothing when closed, half-open or isolated.
   */
  probeNow(): void {
    if (this.current === 'open' && !this.isolated) this.transition('half-open');
  }

  /** Forces the breaker open until `reset()`; calls are rejected meanwhile. */
  isolate(): void {
    this.isolated = true;
    this.transition('open');
  }

  /** Forces the breaker closed with an empty window (also ends `isolate()`). */
  reset(): void {
    this.isolated = false;
    this.transition('closed');
  }

  onStateChange(listener: Listener<StateChangeEvent>): Unsubscribe {
    return this.stateChange.add(listener);
  }
  onRejected(listener: Listener<RejectedEvent>): Unsubscribe {
    return this.rejected.add(listener);
  }
  onSuccess(listener: Listener<SuccessEvent>): Unsubscribe {
    return this.success.add(listener);
  }
  onFailure(listener: Listener<FailureEvent>): Unsubscribe {
    return this.failure.add(listener);
  }

  /** Admits the call (returning the generation it runs under) or throws BrokenCircuitError. */
  private admit(): number {
    if (this.current === 'open') {
      const remaining = this.isolated ? this.openMs : this.openedAt + this.openMs - this.clock.now();
      if (this.isolated || remaining > 0) this.reject('open', Math.max(0, remaining));
      this.transition('half-open');
    }
    if (this.current === 'half-open') {
      if (this.probesInFlight >= this.halfOpenMaxProbes) this.reject('half-open', 0);
      this.probesInFlight++;
    }
    return this.generation;
  }

  private reject(state: RejectingState, retryAfterMs: number): never {
    this.rejected.emit({ name: this.name, state, retryAfterMs });
    throw new BrokenCircuitError(this.name, retryAfterMs, state);
  }

  /** `thrown` is set when the call threw (even a neutral error); `failed` is isFailure's verdict on it. */
  private record(generation: number, started: number, failed: boolean, thrown?: { error: unknown }): void {
    const durationMs = this.clock.now() - started;
    const slow = this.slowCallMs !== undefined && durationMs >= this.slowCallMs;
    if (failed || slow) {
      this.failure.emit({ name: this.name, durationMs, error: thrown?.error, slow: slow && !failed });
    } else {
      this.success.emit(thrown ? { name: this.name, durationMs, error: thrown.error } : { name: this.name, durationMs });
    }
    if (generation !== this.generation) return;

    if (this.current === 'half-open') {
      this.probesInFlight--;
      if (failed || slow) this.transition('open');
      else if (++this.probeSuccesses >= this.halfOpenSuccessesToClose) this.transition('closed');
      return;
    }
    // Closed (an open breaker admits nothing, and calls from before it opened carry an old generation).
    this.window.add(CALLS);
    if (!(failed || slow)) return;
    this.window.add(FAILURES);
    if (this.shouldOpen()) this.transition('open');
  }

  private release(generation: number): void {
    if (generation === this.generation && this.current === 'half-open') this.probesInFlight--;
  }

  private shouldOpen(): boolean {
    const failures = this.window.sum(FAILURES);
    if (failures >= this.failureThreshold) return true;
    if (this.failureRateThreshold === undefined) return false;
    const calls = this.window.sum(CALLS);
    return calls >= this.minimumCalls && failures / calls >= this.failureRateThreshold;
  }

  private transition(to: CircuitState): void {
    const from = this.current;
    this.generation++;
    this.probesInFlight = 0;
    this.probeSuccesses = 0;
    if (to === 'open') this.openedAt = this.clock.now();
    if (to === 'closed') this.window.reset();
    this.current = to;
    if (from !== to) this.stateChange.emit({ name: this.name, from, to });
  }
}
