import { performance } from 'node:perf_hooks';
import { ProfileLockTimeoutError } from './anomaly.errors';

/**
 * In-process mutual exclusion per key (customer), several keys at once. A holder's turn comes when
 * every earlier holder of any of its keys has released; the queue position is taken synchronously
 * for all keys together, so waits only ever point at earlier acquisitions and cannot deadlock.
 * Nothing is kept for a key once its last holder has released.
 */
export class KeyedLock {
  private readonly tails = new Map<string, Promise<void>>();

  constructor(private readonly now: () => number = () => performance.now()) {}

  /** Keys currently held or waited for. */
  get size(): number {
    return this.tails.size;
  }

  /**
   * Resolves with a release function once all `keys` are held. With a finite `timeoutMs` it
   * rejects with ProfileLockTimeoutError when the turn has not come by then; the abandoned turn
   * is then passed on as soon as it comes, so later holders are not blocked by it.
   */
  acquire(keys: readonly string[], timeoutMs = Infinity): Promise<() => void> {
    const unique = [...new Set(keys)];
    let open!: () => void;
    const mine = new Promise<void>((resolve) => (open = resolve));
    const waits: Promise<void>[] = [];
    for (const key of unique) {
      const previous = this.tails.get(key);
      if (previous) waits.push(previous);
      this.tails.set(key, mine);
    }
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      for (const key of unique) if (this.tails.get(key) === mine) this.tails.delete(key);
      open();
    };
    if (waits.length === 0) return Promise.resolve(release);
    const turn = waits.length === 1 ? waits[0] : Promise.all(waits).then(() => undefined);
    if (!Number.isFinite(timeoutMs)) return turn.then(() => release);
    const started = this.now();
    return new Promise((resolve, reject) => {
      let timedOut = false;
      const timer = setTimeout(() => {
        timedOut = true;
        reject(new ProfileLockTimeoutError(this.now() - started));
      }, Math.max(0, timeoutMs));
      void turn.then(() => {
        clearTimeout(timer);
        if (timedOut) release();
        else resolve(release);
      });
    });
  }
}
