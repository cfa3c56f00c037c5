import { foldTransaction, type UserProfile } from '@ml/anomaly-features';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { tx } from '../testing/anomaly.testing';
import { isProfileStoreArgumentError } from './anomaly.errors';
import { MemoryProfileStore } from './memory.profile-store';
import type { ProfileUpdate, StoredProfile } from './profile.store';

const DAY = 86_400_000;
/** An update's apply: the new profile, or undefined for a transaction already folded. */
const fold = (id: string, user = 'u1') => (p: UserProfile | undefined) => {
  const next = foldTransaction(p, tx({ transaction_id: id, user_id: user }));
  return next === p ? undefined : next;
};

describe('MemoryProfileStore', () => {
  it('refuses a bound or TTL it cannot work with', () => {
    for (const bad of [{ max: 0, ttlMs: 1 }, { max: 1.5, ttlMs: 1 }, { max: 10, ttlMs: 0 }, { max: 10, ttlMs: Infinity }]) {
      expect(() => new MemoryProfileStore(bad)).toThrow();
      try {
        new MemoryProfileStore(bad);
      } catch (e) {
        expect(isProfileStoreArgumentError(e)).toBe(true);
      }
    }
  });

  it('reads nothing for a new customer, then what was committed, with a bumped revision', async () => {
    const store = new MemoryProfileStore({ max: 10, ttlMs: DAY });
    const before = (await store.load(['u1'])).get('u1') as StoredProfile;
    expect(before).toEqual({ rev: 0, profile: undefined });
    const result = await store.commit([{ userId: 'u1', base: before, apply: fold('t1') }]);
    expect(result).toEqual({ written: 1, unchanged: 0, conflicts: 0, failed: [] });
    const after = (await store.load(['u1'])).get('u1') as StoredProfile;
    expect(after.rev).toBe(1);
    expect(after.profile?.n).toBe(1);
    expect(after.profile?.ids).toEqual(['t1']);
    expect(store.status()).toEqual({ mode: 'memory', degraded: false, profiles: 1, max: 10 });
  });

  it('writes nothing when the fold changes nothing (a duplicate transaction)', async () => {
    const store = new MemoryProfileStore({ max: 10, ttlMs: DAY });
    await store.commit([{ userId: 'u1', base: { rev: 0, profile: undefined }, apply: fold('t1') }]);
    const base = (await store.load(['u1'])).get('u1') as StoredProfile;
    const again = await store.commit([{ userId: 'u1', base, apply: fold('t1') }]);
    expect(again).toEqual({ written: 0, unchanged: 1, conflicts: 0, failed: [] });
    expect((await store.load(['u1'])).get('u1')?.rev).toBe(1);
  });

  it('re-applies an update to the newer profile when the revision moved since it was read', async () => {
    const store = new MemoryProfileStore({ max: 10, ttlMs: DAY });
    const base = (await store.load(['u1'])).get('u1') as StoredProfile;
    const a: ProfileUpdate = { userId: 'u1', base, apply: fold('a') };
    const b: ProfileUpdate = { userId: 'u1', base, apply: fold('b') };
    const first = await store.commit([a]);
    const second = await store.commit([b]);
    expect(first.written).toBe(1);
    expect(second).toEqual({ written: 1, unchanged: 0, conflicts: 1, failed: [] });
    const stored = (await store.load(['u1'])).get('u1') as StoredProfile;
    expect(stored.rev).toBe(2);
    expect(stored.profile?.n).toBe(2);
    expect(stored.profile?.ids).toEqual(['a', 'b']);
    // The same conflict with a duplicate: nothing to write.
    const dup = await store.commit([{ userId: 'u1', base, apply: fold('a') }]);
    expect(dup).toEqual({ written: 0, unchanged: 1, conflicts: 1, failed: [] });
  });

  it('forgets a profile TTL after its last write, and a write renews it', async () => {
    let now = 1_000;
    const store = new MemoryProfileStore({ max: 10, ttlMs: 90 * DAY, clock: { now: () => now } });
    await store.commit([{ userId: 'u1', base: { rev: 0, profile: undefined }, apply: fold('t1') }]);
    now += 60 * DAY;
    const mid = (await store.load(['u1'])).get('u1') as StoredProfile;
    expect(mid.profile?.n).toBe(1);
    await store.commit([{ userId: 'u1', base: mid, apply: fold('t2') }]);
    now += 60 * DAY;
    expect((await store.load(['u1'])).get('u1')?.profile?.n).toBe(2);
    now += 31 * DAY;
    expect((await store.load(['u1'])).get('u1')).toEqual({ rev: 0, profile: undefined });
    await store.commit([{ userId: 'u2', base: { rev: 0, profile: undefined }, apply: fold('t3', 'u2') }]);
    now += 91 * DAY;
    expect(store.purgeStale()).toBe(true);
    expect(store.size).toBe(0);
  });

  it('drops the least recently used customer beyond its bound', async () => {
    const store = new MemoryProfileStore({ max: 2, ttlMs: DAY });
    for (const u of ['a', 'b']) await store.commit([{ userId: u, base: { rev: 0, profile: undefined }, apply: fold(`t-${u}`, u) }]);
    await store.load(['a']);
    await store.commit([{ userId: 'c', base: { rev: 0, profile: undefined }, apply: fold('t-c', 'c') }]);
    const now = await store.load(['a', 'b', 'c']);
    expect(now.get('a')?.rev).toBe(1);
    expect(now.get('b')?.rev).toBe(0);
    expect(now.get('c')?.rev).toBe(1);
    expect(store.size).toBe(2);
  });

  it('stays at its bound, and the heap stays flat, through a million distinct customers', async () => {
    setFlagsFromString('--expose_gc');
    const gc = runInNewContext('gc') as () => void;
    const bound = 1000;
    const store = new MemoryProfileStore({ max: bound, ttlMs: 90 * DAY });
    // Every customer gets a real profile; one shared template keeps the test about the store.
    const template = foldTransaction(undefined, tx({ transaction_id: 't', user_id: 'x' }));
    const none: StoredProfile = { rev: 0, profile: undefined };
    const batch = async (from: number, to: number) => {
      const updates: ProfileUpdate[] = [];
      for (let i = from; i < to; i++) updates.push({ userId: `user-${i}`, base: none, apply: () => ({ ...template, n: i }) });
      await store.commit(updates);
    };
    await batch(0, 10_000);
    gc();
    const baseline = process.memoryUsage().heapUsed;
    for (let i = 10_000; i < 1_000_000; i += 10_000) {
      await batch(i, i + 10_000);
      expect(store.size).toBe(bound);
    }
    gc();
    const grown = process.memoryUsage().heapUsed - baseline;
    expect(store.size).toBe(bound);
    // 990,000 further customers: unbounded growth would be hundreds of MB.
    expect(grown).toBeLessThan(16 * 1024 * 1024);
    const last = await store.load(['user-999999', 'user-0']);
    expect(last.get('user-999999')?.profile?.n).toBe(999_999);
    expect(last.get('user-0')).toEqual({ rev: 0, profile: undefined });
  });
});
