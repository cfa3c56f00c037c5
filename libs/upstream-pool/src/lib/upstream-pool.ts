import { addressUrl, unresolved, type EndpointAddress, type Target } from './upstream-pool.targets';

/** Monotonic milliseconds; injected so tests need no timers. */
export interface PoolClock {
  now(): number;
}

/** Looks a name up: every address it has (`dns.promises.lookup(name, { all: true })`). */
export type Resolver = (hostname: string) => Promise<string[]>;

export type EjectReason = 'failures' | 'not_ready';

/** What an attempt on an endpoint came to, as far as the endpoint's health goes. */
export type AttemptOutcome = 'success' | 'failure' | 'neutral';

export interface PoolOptions {
  /** The upstream's name, in events. */
  name: string;
  targets: Target[];
  /** Consecutive failed attempts that eject an endpoint. */
  ejectAfterFailures: number;
  /** Consecutive failed readiness polls that eject an endpoint. */
  ejectAfterFailedPolls: number;
  /** Consecutive successful readiness polls that re-admit an ejected endpoint. */
  readmitAfterPolls: number;
  /** Absent: targets are used as configured and never looked up. */
  resolver?: Resolver;
  /** Uniform in [0, 1), for the power of two choices. Default Math.random. */
  random?: () => number;
  clock?: PoolClock;
}

/** An endpoint's state, as monitoring shows it. */
export interface EndpointView {
  url: string;
  host: string;
  state: 'up' | 'ejected';
  /** Why it was ejected, while it is. */
  reason?: EjectReason;
  /** Last readiness poll: true ready, false not, undefined not polled yet. */
  ready?: boolean;
  pending: number;
  consecutiveFailures: number;
  requests: number;
  failures: number;
  ejections: number;
  /** When it last changed state (pool clock, ms). */
  sinceMs: number;
}

export type PoolEvent =
  | { type: 'added'; endpoint: string }
  | { type: 'removed'; endpoint: string }
  | { type: 'ejected'; endpoint: string; reason: EjectReason }
  | { type: 'readmitted'; endpoint: string };

/** A handle on one endpoint, returned by `pick` and given back to `release`. */
export interface Endpoint {
  readonly url: string;
  readonly host: string;
}

interface State extends Endpoint {
  admitted: boolean;
  reason?: EjectReason;
  ready?: boolean;
  pending: number;
  consecutiveFailures: number;
  failedPolls: number;
  goodPolls: number;
  requests: number;
  failures: number;
  ejections: number;
  sinceMs: number;
}

const systemClock: PoolClock = { now: () => performance.now() };

/**
 * The endpoints of one upstream and which of them take traffic. Pure bookkeeping: no sockets, no
 * timers; the caller reports attempt outcomes and readiness polls, and calls `refresh` to look the
 * targets' names up again.
 *
 * - `pick` chooses among admitted endpoints by the power of two choices on pending attempts.
 * - An endpoint is ejected after `ejectAfterFailures` consecutive failed attempts or
 *   `ejectAfterFailedPolls` consecutive failed polls, and re-admitted after `readmitAfterPolls`
 *   consecutive good polls (or a successful attempt, for one ejected by failures).
 * - When no endpoint is admitted, `pick` chooses among all of them ("panic"): the pool never refuses
 *   by itself, and the caller's breaker, which counts failures only when no other endpoint is
 *   admitted, decides. So one URL behaves exactly as a plain client would.
 */
export class UpstreamPool {
  readonly name: string;
  private readonly targets: Target[];
  private readonly opts: PoolOptions;
  private readonly random: () => number;
  private readonly clock: PoolClock;
  private readonly states = new Map<string, State>();
  /** Each target's endpoint urls as last resolved. */
  private readonly byTarget = new Map<string, string[]>();
  private readonly listeners: ((e: PoolEvent) => void)[] = [];
  private refreshing?: Promise<void>;

  constructor(opts: PoolOptions) {
    if (opts.targets.length === 0) throw new Error(`${opts.name}: no upstream URL`);
    for (const k of ['ejectAfterFailures', 'ejectAfterFailedPolls', 'readmitAfterPolls'] as const) {
      if (!Number.isInteger(opts[k]) || opts[k] < 1) throw new Error(`${k} must be a positive integer`);
    }
    this.name = opts.name;
    this.targets = opts.targets;
    this.opts = opts;
    this.random = opts.random ?? Math.random;
    this.clock = opts.clock ?? systemClock;
    // Until a lookup answers, every target stands for itself (its connections resolve the name).
    for (const t of this.targets) this.setTargetAddresses(t, [unresolved(t)]);
  }

  /** Subscribes to endpoints appearing, leaving, being ejected and re-admitted. */
  on(listener: (e: PoolEvent) => void): () => void {
    this.listeners.push(listener);
    return () => {
      const i = this.listeners.indexOf(listener);
      if (i >= 0) this.listeners.splice(i, 1);
    };
  }

  /** Every endpoint, in the order they appeared. */
  endpoints(): EndpointView[] {
    return [...this.states.values()].map((s) => ({
      url: s.url,
      host: s.host,
      state: s.admitted ? 'up' : 'ejected',
      ...(s.admitted ? {} : { reason: s.reason }),
      ready: s.ready,
      pending: s.pending,
      consecutiveFailures: s.consecutiveFailures,
      requests: s.requests,
      failures: s.failures,
      ejections: s.ejections,
      sinceMs: s.sinceMs,
    }));
  }

  /** Admitted endpoints. */
  get admittedCount(): number {
    let n = 0;
    for (const s of this.states.values()) if (s.admitted) n++;
    return n;
  }

  /**
   * The endpoint for the next attempt: among admitted endpoints not in `exclude` (those the call
   * already tried), the less busy of two chosen at random. With none, any endpoint not excluded;
   * with none of those either, any endpoint at all. Undefined only when the pool is empty.
   */
  pick(exclude?: ReadonlySet<string>): Endpoint | undefined {
    const all = [...this.states.values()];
    const fresh = exclude ? all.filter((s) => !exclude.has(s.url)) : all;
    let candidates = fresh.filter((s) => s.admitted);
    if (candidates.length === 0) candidates = fresh;
    if (candidates.length === 0) candidates = all.filter((s) => s.admitted);
    if (candidates.length === 0) candidates = all;
    if (candidates.length <= 1) return candidates[0];
    const i = Math.floor(this.random() * candidates.length);
    // The second choice is uniform among the others, never the first again.
    let j = Math.floor(this.random() * (candidates.length - 1));
    if (j >= i) j++;
    const a = candidates[i];
    const b = candidates[j];
    return b.pending < a.pending ? b : a;
  }

  /** Whether an admitted endpoint other than `endpoint` (and not in `exclude`) is left. */
  hasAlternative(endpoint: Endpoint, exclude?: ReadonlySet<string>): boolean {
    for (const s of this.states.values()) {
      if (s.admitted && s.url !== endpoint.url && !exclude?.has(s.url)) return true;
    }
    return false;
  }

  /** An attempt starts on `endpoint`. */
  acquire(endpoint: Endpoint): void {
    const s = this.states.get(endpoint.url);
    if (!s) return;
    s.pending++;
    s.requests++;
  }

  /** The attempt `acquire` started has ended so. */
  release(endpoint: Endpoint, outcome: AttemptOutcome): void {
    const s = this.states.get(endpoint.url);
    if (!s) return;
    s.pending = Math.max(0, s.pending - 1);
    if (outcome === 'success') {
      s.consecutiveFailures = 0;
      // An endpoint ejected for failures that answers again (it got traffic because none was
      // admitted) is back; one that says it is not ready stays out until its polls say otherwise.
      if (!s.admitted && s.reason === 'failures') this.admit(s);
    } else if (outcome === 'failure') {
      s.failures++;
      s.consecutiveFailures++;
      if (s.admitted && s.consecutiveFailures >= this.opts.ejectAfterFailures) this.eject(s, 'failures');
    }
  }

  /** A readiness poll of `url` answered ready (`ok`) or not. */
  reportPoll(url: string, ok: boolean): void {
    const s = this.states.get(url);
    if (!s) return;
    s.ready = ok;
    if (ok) {
      s.failedPolls = 0;
      s.goodPolls++;
      if (!s.admitted && s.goodPolls >= this.opts.readmitAfterPolls) this.admit(s);
    } else {
      s.goodPolls = 0;
      s.failedPolls++;
      if (s.admitted && s.failedPolls >= this.opts.ejectAfterFailedPolls) this.eject(s, 'not_ready');
    }
  }

  /**
   * Looks every resolvable target up again and applies the difference: new addresses become
   * admitted endpoints, addresses no longer returned are removed. A failed or empty lookup keeps
   * what the target had. Concurrent calls share one lookup.
   */
  refresh(): Promise<void> {
    const resolver = this.opts.resolver;
    if (!resolver) return Promise.resolve();
    this.refreshing ??= (async () => {
      try {
        await Promise.all(
          this.targets
            .filter((t) => t.resolvable)
            .map(async (t) => {
              let addresses: string[];
              try {
                addresses = await resolver(t.hostname);
              } catch {
                return;
              }
              const unique = [...new Set(addresses)];
              if (unique.length === 0) return;
              this.setTargetAddresses(t, unique.map((a) => ({ url: addressUrl(t, a), host: t.host })));
            }),
        );
      } finally {
        this.refreshing = undefined;
      }
    })();
    return this.refreshing;
  }

  private setTargetAddresses(target: Target, addresses: EndpointAddress[]) {
    const before = this.byTarget.get(target.origin) ?? [];
    const now = addresses.map((a) => a.url);
    this.byTarget.set(target.origin, now);
    for (const a of addresses) {
      if (this.states.has(a.url)) continue;
      this.states.set(a.url, {
        url: a.url,
        host: a.host,
        admitted: true,
        pending: 0,
        consecutiveFailures: 0,
        failedPolls: 0,
        goodPolls: 0,
        requests: 0,
        failures: 0,
        ejections: 0,
        sinceMs: this.clock.now(),
      });
      this.emit({ type: 'added', endpoint: a.url });
    }
    for (const url of before) {
      if (now.includes(url) || this.claimedByOtherTarget(url, target)) continue;
      this.states.delete(url);
      this.emit({ type: 'removed', endpoint: url });
    }
  }

  private claimedByOtherTarget(url: string, target: Target) {
    for (const [origin, urls] of this.byTarget) if (origin !== target.origin && urls.includes(url)) return true;
    return false;
  }

  private eject(s: State, reason: EjectReason) {
    s.admitted = false;
    s.reason = reason;
    s.goodPolls = 0;
    s.ejections++;
    s.sinceMs = this.clock.now();
    this.emit({ type: 'ejected', endpoint: s.url, reason });
  }

  private admit(s: State) {
    s.admitted = true;
    s.reason = undefined;
    s.consecutiveFailures = 0;
    s.failedPolls = 0;
    s.goodPolls = 0;
    s.sinceMs = this.clock.now();
    this.emit({ type: 'readmitted', endpoint: s.url });
  }

  private emit(e: PoolEvent) {
    for (const l of [...this.listeners]) l(e);
  }
}
