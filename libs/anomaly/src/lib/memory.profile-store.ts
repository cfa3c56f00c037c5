import type { UserProfile } from '@ml/anomaly-features';
import { LRUCache } from 'lru-cache';
import { ProfileStoreArgumentError } from './anomaly.errors';
import { NO_PROFILE, type CommitResult, type ProfileStore, type ProfileStoreStatus, type ProfileUpdate, type StoredProfile } from './profile.store';

export interface MemoryProfileStoreOptions {
  /** Most customers held; past it the least recently used profile is dropped. */
  max: number;
  /** A profile not written for this long is dropped. */
  ttlMs: number;
  /** Monotonic time source for the TTL (default `performance`); tests inject one. */
  clock?: { now(): number };
}

interface Entry {
  rev: number;
  profile: UserProfile;
}

/**
 * Customer history in process memory (the embedded default, one replica): a bounded LRU with a
 * TTL refreshed by every write, so memory stays flat however many customers pass through.
 * Profiles are kept as the objects the scorer folds into (never copied), which keeps reads and
 * writes free of serialisation and of garbage.
 */
export class MemoryProfileStore implements ProfileStore {
  readonly mode = 'memory' as const;
  private readonly lru: LRUCache<string, Entry>;

  constructor(options: MemoryProfileStoreOptions) {
    const { max, ttlMs, clock } = options;
    if (!Number.isSafeInteger(max) || max < 1) throw new ProfileStoreArgumentError(`max must be a positive integer, got ${String(max)}`);
    if (!(ttlMs > 0) || !Number.isFinite(ttlMs)) throw new ProfileStoreArgumentError(`ttlMs must be a positive number, got ${String(ttlMs)}`);
    this.lru = new LRUCache<string, Entry>({
      max,
      ttl: Math.ceil(ttlMs),
      // Expired entries are dropped when touched or evicted: no timer per customer.
      ttlAutopurge: false,
      updateAgeOnGet: false,
      // Read the clock on every check rather than a value cached for a millisecond, so an
      // injected clock is honoured exactly.
      ttlResolution: 0,
      ...(clock ? { perf: clock } : {}),
    });
  }

  /** Customers held (expired ones not yet touched included). */
  get size(): number {
    return this.lru.size;
  }

  async load(userIds: readonly string[]): Promise<Map<string, StoredProfile>> {
    const out = new Map<string, StoredProfile>();
    for (const id of userIds) {
      const e = this.lru.get(id);
      out.set(id, e ? { rev: e.rev, profile: e.profile } : NO_PROFILE);
    }
    return out;
  }

  async commit(updates: readonly ProfileUpdate[]): Promise<CommitResult> {
    const result: CommitResult = { written: 0, unchanged: 0, conflicts: 0, failed: [] };
    for (const u of updates) {
      // Synchronous from read to write: the compare-and-set cannot lose here, but a revision that
      // moved since `load` (another request of this process wrote) means re-applying to the new one.
      const e = this.lru.get(u.userId);
      const rev = e?.rev ?? 0;
      const current = e?.profile;
      if (rev !== u.base.rev) result.conflicts++;
      // The live profile is folded in place: the scorer holds this customer's lock and has
      // already worded its answers, so nobody reads it meanwhile.
      const next = u.apply(rev === u.base.rev ? u.base.profile : current);
      if (next === undefined) {
        result.unchanged++;
        continue;
      }
      this.lru.set(u.userId, { rev: rev + 1, profile: next });
      result.written++;
    }
    return result;
  }

  /** Drops every expired profile now. */
  purgeStale(): boolean {
    return this.lru.purgeStale();
  }

  status(): ProfileStoreStatus {
    return { mode: 'memory', degraded: false, profiles: this.lru.size, max: this.lru.max };
  }

  onDegradedChange(): () => void {
    // Memory never becomes unavailable.
    return () => undefined;
  }

  async close(): Promise<void> {
    // Nothing runs in the background.
  }
}
