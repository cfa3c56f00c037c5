import { performance } from 'node:perf_hooks';

export interface AdmissionOptions {
  /** Names what is protected (a model, an upstream) in errors, events and metrics. */
  name: string;
  /**
   * Requests always admitted while fewer than this many are in flight, whatever the estimate says:
   * a lightly loaded service never sheds, and an idle one (no recent completions to measure) takes
   * the first requests of a burst at once. Default 32.
   */
  minInFlight?: number;
  /** Never more than this many in flight, whatever the estimate says (bounds memory). Default 1024. */
  maxInFlight?: number;
  /** The completion rate is measured over this trailing window. Default 1000 ms. */
  windowMs?: number;
  /**
   * Once a new request's expected time reaches this share of its remaining deadline, keys holding
   * more than their fair share of the requests in flight are shed first. Default 0.5.
   */
  fairnessAt?: number;
  /** Monotonic milliseconds; injectable for tests. */
  now?: () => number;
}

export type ShedReason = 'deadline' | 'fair_share' | 'capacity';

/** The request was shed instead of queued: 503 with Retry-After, answered at once. */
export class OverloadedError extends Error {
  readonly code = 'OVERLOADED';
  readonly retryAfterSeconds = 1;
  readonly publicDetail: string;
  constructor(
    readonly target: string,
    readonly reason: ShedReason,
    readonly expectedMs: number,
  ) {
    super(`${target}: shed (${reason}; expected ${expectedMs.toFixed(0)} ms)`);
    this.name = 'OverloadedError';
    this.publicDetail =
      reason === 'fair_share'
        ? `The ${target} service is overloaded and this client holds more than its share of it; retry shortly.`
        : `The ${target} service is overloaded and could not answer within the deadline; retry shortly.`;
  }
}
export const isOverloadedError = (e: unknown): e is OverloadedError => e instanceof OverloadedError;

/** An admitted request; `release()` once it has been answered (idempotent). */
export interface Admission {
  release(): void;
}

export interface AdmissionSnapshot {
  inFlight: number;
  /** Completions per second over the window. */
  completionRate: number;
  /** What a request arriving now would expect to take, ms. */
  expectedMs: number;
  /** What requests are seen to take now: the mean of the window's completions or the oldest in flight's age, ms. */
  observedMs: number;
  activeKeys: number;
  shed: Record<ShedReason, number>;
}

const BUCKETS = 10;

/**
 * Admission control that sheds load to keep deadlines instead of queueing it.
 *
 * By Little's law the time a request spends in a stable system is the number in it divided by the
 * rate at which they leave, so a request arriving now expects `(inFlight + 1) / completionRate`.
 * When that exceeds its remaining deadline it could only time out after holding memory and a
 * connection: it is refused at once instead. Past `fairnessAt` of the deadline, a key holding more
 * than an equal share of the requests in flight is refused first, so one client's flood is shed
 * before anyone else's requests. The estimate adapts by itself: a slower upstream completes fewer
 * requests per second, and the admitted concurrency falls with it. It is acted on only while
 * requests are seen to queue (recent ones took, or the oldest in flight has waited, at least
 * `fairnessAt` of the deadline): a rate measured under light traffic says what was asked, not what
 * the service can do, and shedding a burst on it would refuse requests that would have been
 * answered in time.
 */
export class AdmissionController {
  readonly name: string;
  private readonly minInFlight: number;
  private readonly maxInFlight: number;
  private readonly windowMs: number;
  private readonly bucketMs: number;
  private readonly fairnessAt: number;
  private readonly now: () => number;
  private readonly perKey = new Map<string, number>();
  private readonly counts = new Array<number>(BUCKETS).fill(0);
  /** Summed time-in-system of the completions in each bucket, ms. */
  private readonly latencies = new Array<number>(BUCKETS).fill(0);
  /** Admission time of every request in flight, oldest first (a Map keeps insertion order). */
  private readonly admittedAt = new Map<number, number>();
  private nextTicket = 0;
  private bucketStart: number;
  private head = 0;
  /** When the current busy period began: the rate is measured over it until it spans a window. */
  private activeSince = 0;
  private lastCompletionAt = -Infinity;
  private inFlightNow = 0;
  private readonly shedCounts: Record<ShedReason, number> = { deadline: 0, fair_share: 0, capacity: 0 };

  constructor(options: AdmissionOptions) {
    this.name = options.name;
    this.minInFlight = positiveInt('minInFlight', options.minInFlight ?? 32);
    this.maxInFlight = positiveInt('maxInFlight', options.maxInFlight ?? 1024);
    if (this.maxInFlight < this.minInFlight) throw new RangeError('maxInFlight must be at least minInFlight');
    this.windowMs = options.windowMs ?? 1000;
    if (!(this.windowMs > 0)) throw new RangeError('windowMs must be > 0');
    this.bucketMs = this.windowMs / BUCKETS;
    this.fairnessAt = options.fairnessAt ?? 0.5;
    if (!(this.fairnessAt > 0 && this.fairnessAt <= 1)) throw new RangeError('fairnessAt must be in (0, 1]');
    this.now = options.now ?? (() => performance.now());
    this.bucketStart = this.now();
  }

  get inFlight(): number {
    return this.inFlightNow;
  }

  /**
   * Admits a request from `key` that has `remainingMs` left before its deadline, or throws
   * {@link OverloadedError} without side effects.
   */
  admit(key: string, remainingMs: number): Admission {
    const now = this.now();
    const completed = this.completedInWindow(now);
    // Idle (nothing in flight, nothing completed within the window): a new busy period starts, and
    // its rate must not be diluted by the idle time before it.
    if (this.inFlightNow === 0 && completed === 0) this.activeSince = now;
    if (this.inFlightNow >= this.maxInFlight) this.shed('capacity', this.expectedMs(now, completed));
    if (this.inFlightNow >= this.minInFlight) {
      const expected = this.expectedMs(now, completed);
      // The estimate is trusted only when requests are really queueing: recent ones took (or the
      // oldest in flight has already waited) a good part of this deadline. After a quiet spell the
      // measured rate is what light traffic asked for, not what the service can do, and a burst
      // would otherwise be shed although it would be answered in time.
      const queueing = this.observedMs(now, completed) >= remainingMs * this.fairnessAt;
      const shared = this.perKey.size > 1;
      const overShare = shared && (this.perKey.get(key) ?? 0) >= this.inFlightNow / this.perKey.size;
      // A key under its share is what fairness protects: it is shed for the deadline only when even
      // the expected time of a queue cut back to fair shares would miss it (1/fairnessAt over).
      const deadlineFor = shared && !overShare ? remainingMs / this.fairnessAt : remainingMs;
      if (queueing && expected > deadlineFor) this.shed('deadline', expected);
      if (queueing && overShare && expected >= remainingMs * this.fairnessAt) this.shed('fair_share', expected);
    }
    this.inFlightNow++;
    this.perKey.set(key, (this.perKey.get(key) ?? 0) + 1);
    const ticket = this.nextTicket++;
    this.admittedAt.set(ticket, now);
    let released = false;
    return {
      release: () => {
        if (released) return;
        released = true;
        this.complete(key, ticket);
      },
    };
  }

  snapshot(): AdmissionSnapshot {
    const now = this.now();
    const completed = this.completedInWindow(now);
    return {
      inFlight: this.inFlightNow,
      completionRate: this.ratePerMs(now, completed) * 1000,
      expectedMs: this.expectedMs(now, completed),
      observedMs: this.observedMs(now, completed),
      activeKeys: this.perKey.size,
      shed: { ...this.shedCounts },
    };
  }

  /**
   * What a request arriving at `now` expects to take, by Little's law over the window. With no
   * completion in the window there is no rate to divide by: the time since anything last completed
   * (or since this busy period began) is then the best lower bound. A burst arriving at an idle
   * service is admitted (nothing has had time to be slow yet); a hung upstream is shed once it has
   * been stuck for longer than a request's remaining deadline.
   */
  private expectedMs(now: number, completed: number): number {
    const rate = this.ratePerMs(now, completed);
    if (rate > 0) return (this.inFlightNow + 1) / rate;
    return this.inFlightNow === 0 ? 0 : now - Math.max(this.lastCompletionAt, this.activeSince);
  }

  /** The queueing actually seen: recent completions' mean time in system, or the oldest wait so far. `completed`: completions in the window, as `completedInWindow` counted them at `now`. */
  private observedMs(now: number, completed: number): number {
    let total = 0;
    for (const l of this.latencies) total += l;
    const mean = completed > 0 ? total / completed : 0;
    const oldest = this.admittedAt.values().next();
    return Math.max(mean, oldest.done ? 0 : now - oldest.value);
  }

  private ratePerMs(now: number, completed: number): number {
    // A busy period shorter than the window is measured over its own length.
    const span = Math.min(this.windowMs, Math.max(this.bucketMs, now - this.activeSince));
    return completed / span;
  }

  private completedInWindow(now: number): number {
    this.advance(now);
    let completed = 0;
    for (const c of this.counts) completed += c;
    return completed;
  }

  private complete(key: string, ticket: number) {
    this.inFlightNow--;
    const admitted = this.admittedAt.get(ticket) ?? this.now();
    this.admittedAt.delete(ticket);
    const left = (this.perKey.get(key) ?? 1) - 1;
    if (left <= 0) this.perKey.delete(key);
    else this.perKey.set(key, left);
    const now = this.now();
    this.advance(now);
    this.counts[this.head]++;
    this.latencies[this.head] += now - admitted;
    this.lastCompletionAt = now;
  }

  /** Moves the ring of buckets forward to `now`, clearing the ones that fell out of the window. */
  private advance(now: number) {
    const steps = Math.floor((now - this.bucketStart) / this.bucketMs);
    if (steps <= 0) return;
    for (let i = 0; i < Math.min(steps, BUCKETS); i++) {
      this.head = (this.head + 1) % BUCKETS;
      this.counts[this.head] = 0;
      this.latencies[this.head] = 0;
    }
    this.bucketStart += steps * this.bucketMs;
  }

  private shed(reason: ShedReason, expectedMs: number): never {
    this.shedCounts[reason]++;
    throw new OverloadedError(this.name, reason, expectedMs);
  }
}

function positiveInt(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 1) throw new RangeError(`${name} must be an integer >= 1, got ${value}`);
  return value;
}
