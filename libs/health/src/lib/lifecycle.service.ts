import { Injectable } from '@nestjs/common';

export type LifecyclePhase = 'starting' | 'ready' | 'draining';

/** A condition readiness waits for (e.g. "model loaded and warmed"). */
export type ReadinessGate = () => boolean;
/** Extra state shown in readiness details without ever failing it (upstreams, Redis). */
export type ReadinessInfo = () => Record<string, unknown>;

/**
 * This process's own lifecycle: starting until booted, ready while every gate is open, draining
 * after SIGTERM. Readiness never depends on other services: those are reported, not enforced.
 */
@Injectable()
export class LifecycleService {
  private phase: LifecyclePhase = 'starting';
  private readonly gates = new Map<string, ReadinessGate>();
  private readonly infos = new Map<string, ReadinessInfo>();
  private inFlight = 0;
  private idleWaiters: Array<() => void> = [];

  get current(): LifecyclePhase {
    return this.phase;
  }

  /** Called once the HTTP server listens. */
  markBooted() {
    if (this.phase === 'starting') this.phase = 'ready';
  }

  /** First step of shutdown: readiness fails from now on. */
  startDraining() {
    this.phase = 'draining';
  }

  get draining() {
    return this.phase === 'draining';
  }

  addGate(name: string, gate: ReadinessGate) {
    this.gates.set(name, gate);
  }

  addInfo(name: string, info: ReadinessInfo) {
    this.infos.set(name, info);
  }

  /** Gate name -> open? */
  gateStates(): Record<string, boolean> {
    const out: Record<string, boolean> = {};
    for (const [name, gate] of this.gates) out[name] = safe(gate, false);
    return out;
  }

  infoStates(): Record<string, Record<string, unknown>> {
    const out: Record<string, Record<string, unknown>> = {};
    for (const [name, info] of this.infos) out[name] = safe(info, { error: 'unavailable' });
    return out;
  }

  get ready(): boolean {
    return this.phase === 'ready' && Object.values(this.gateStates()).every(Boolean);
  }

  /** Tracks requests in flight so shutdown can wait for them. */
  requestStarted() {
    this.inFlight++;
  }

  requestFinished() {
    this.inFlight = Math.max(0, this.inFlight - 1);
    if (this.inFlight === 0) {
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      waiters.forEach((w) => w());
    }
  }

  get requestsInFlight() {
    return this.inFlight;
  }

  /** Resolves true when no request is in flight, or false when `timeoutMs` passes first. */
  waitForIdle(timeoutMs: number): Promise<boolean> {
    if (this.inFlight === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.idleWaiters = this.idleWaiters.filter((w) => w !== done);
        resolve(false);
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        resolve(true);
      };
      this.idleWaiters.push(done);
    });
  }
}

function safe<T>(fn: () => T, fallback: T): T {
  try {
    return fn();
  } catch {
    return fallback;
  }
}
