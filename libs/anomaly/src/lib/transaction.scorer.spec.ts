import { Logger } from '@nestjs/common';
import { loadRunner } from '@ml/inference';
import { CircuitBreaker } from '@ml/resilience';
import { RedisBudget, type Redis } from '@ml/redis';
import { MODEL_DIR, daysAgo, freePort, groceryHistory, iso, redisClient, tx } from '../testing/anomaly.testing';
import { AnomalyDetector, POPULATION_ONLY } from './anomaly.detector';
import { isProfileLockTimeoutError } from './anomaly.errors';
import { resolveAnomalyModel } from './anomaly.model';
import { KeyedLock } from './keyed.lock';
import { MemoryProfileStore } from './memory.profile-store';
import type { ProfileStore } from './profile.store';
import { RedisProfileStore } from './redis.profile-store';
import { TransactionScorer, type ScoringOutcome } from './transaction.scorer';

const DAY = 86_400_000;
let detector: AnomalyDetector;

beforeAll(async () => {
  Logger.overrideLogger(false);
  const files = await resolveAnomalyModel(MODEL_DIR);
  detector = new AnomalyDetector(files, await loadRunner(files.modelPath, 0), { maxBatchSize: 64, maxQueueDelayMs: 0, maxQueueSize: 4096 });
  await detector.warmUp();
});
afterAll(() => detector.close());


function setup(store: ProfileStore = new MemoryProfileStore({ max: 1000, ttlMs: 90 * DAY }), locks?: KeyedLock) {
  const scorer = new TransactionScorer({ store, model: detector, locks });
  const outcomes: ScoringOutcome[] = [];
  scorer.onOutcome((o) => outcomes.push(o));
  return { store, scorer, outcomes };
}

describe('TransactionScorer', () => {
  it('scores against the history before the transaction, then folds it in', async () => {
    const { store, scorer, outcomes } = setup();
    const [first] = await scorer.score([tx({ transaction_id: 't1', user_id: 'u1' })], 1000);
    expect(first.reasons).toContain(POPULATION_ONLY.newCustomer);
    expect(first.degraded).toBe(false);
    expect((await store.load(['u1'])).get('u1')?.profile?.n).toBe(1);
    const [second] = await scorer.score([tx({ transaction_id: 't2', user_id: 'u1' })], 1000);
    expect(second.reasons).not.toContain(POPULATION_ONLY.newCustomer);
    expect((await store.load(['u1'])).get('u1')?.profile?.n).toBe(2);
    expect(outcomes[0]).toEqual({ transactions: 1, degraded: 0, flagged: 0, foldSkipped: { unavailable: 0, conflict: 0 }, conflicts: 0 });
  });

  it('scores a repeated transaction id again but folds it once', async () => {
    const { store, scorer } = setup();
    await scorer.score(groceryHistory('u1', 10), 5000);
    const odd = tx({ transaction_id: 'dup', user_id: 'u1', amount: 900, channel: 'online', merchant_category: 'shopping' });
    const [a] = await scorer.score([odd], 1000);
    // A deep copy: the store folds into the very profile object it holds.
    const afterFirst = structuredClone((await store.load(['u1'])).get('u1'));
    const [b] = await scorer.score([odd], 1000);
    const afterSecond = (await store.load(['u1'])).get('u1');
    expect(afterFirst?.profile?.n).toBe(11);
    expect(afterSecond).toEqual(afterFirst);
    // The second time the transaction is in the history it is scored against; the answer is still given.
    expect(b.transaction_id).toBe('dup');
    expect(typeof b.score).toBe('number');
    expect(a.transaction_id).toBe('dup');
  });

  it('lets each transaction of a batch see the earlier ones (by time), answering in request order', async () => {
    const { store, scorer, outcomes } = setup();
    const t0 = daysAgo(3) + 12 * 3_600_000;
    const batch = [
      tx({ transaction_id: 'late', user_id: 'u1', timestamp: iso(t0 + 2 * 3_600_000) }),
      tx({ transaction_id: 'early', user_id: 'u1', timestamp: iso(t0) }),
      tx({ transaction_id: 'other', user_id: 'u2', timestamp: iso(t0 + 3_600_000) }),
    ];
    const predictions = await scorer.score(batch, 1000);
    expect(predictions.map((p) => p.transaction_id)).toEqual(['late', 'early', 'other']);
    expect(predictions[1].reasons).toContain(POPULATION_ONLY.newCustomer);
    expect(predictions[0].reasons).not.toContain(POPULATION_ONLY.newCustomer);
    expect(predictions[2].reasons).toContain(POPULATION_ONLY.newCustomer);
    const stored = await store.load(['u1', 'u2']);
    expect(stored.get('u1')?.profile?.ids).toEqual(['early', 'late']);
    expect(stored.get('u2')?.profile?.n).toBe(1);
    expect(outcomes.at(-1)?.transactions).toBe(3);
    expect(await scorer.score([], 1000)).toEqual([]);
  });

  it('words every answer from the history before its transaction, though the stored profile is folded in place', async () => {
    const { store, scorer } = setup();
    await scorer.score(groceryHistory('u1', 5), 5000);
    const seen: (number | undefined)[] = [];
    const recording = new TransactionScorer({
      store,
      model: {
        features: detector.features,
        scores: (rows, budget) => detector.scores(rows, budget),
        present: (t, f, profile, score, degraded) => {
          seen.push(profile?.n);
          return detector.present(t, f, profile, score, degraded);
        },
      },
    });
    const live = (await store.load(['u1'])).get('u1')?.profile;
    await recording.score([tx({ transaction_id: 'a', user_id: 'u1', timestamp: iso(daysAgo(1)) }), tx({ transaction_id: 'b', user_id: 'u1', timestamp: iso(daysAgo(1) + 60_000) })], 1000);
    expect(seen).toEqual([5, 6]);
    const after = (await store.load(['u1'])).get('u1');
    expect(after?.profile).toBe(live); // folded in place, not copied
    expect(after?.profile?.n).toBe(7);
    expect(after?.rev).toBe(2);
  });

  it('folds nothing when scoring fails', async () => {
    const { store, scorer } = setup();
    await scorer.score(groceryHistory('u1', 3), 5000);
    const before = structuredClone((await store.load(['u1'])).get('u1'));
    const failing = new TransactionScorer({
      store,
      model: { features: detector.features, scores: () => Promise.reject(new Error('model down')), present: (...a) => detector.present(...a) },
    });
    await expect(failing.score([tx({ transaction_id: 'x', user_id: 'u1' }), tx({ transaction_id: 'y', user_id: 'u2' })], 1000)).rejects.toThrow('model down');
    expect((await store.load(['u1'])).get('u1')).toEqual(before);
    expect((await store.load(['u2'])).get('u2')?.profile).toBeUndefined();
  });

  it('scores on population features only, marks degraded and folds nothing when the store is down', async () => {
    const client: Redis = redisClient(await freePort(), 100);
    const store = new RedisProfileStore({
      client,
      keyPrefix: 'p:',
      ttlMs: DAY,
      breaker: new CircuitBreaker({ failureThreshold: 100 }),
      probeIntervalMs: 0,
    });
    try {
      const { scorer, outcomes } = setup(store);
      const started = Date.now();
      const predictions = await scorer.score(groceryHistory('u1', 3), 1000);
      expect(Date.now() - started).toBeLessThan(500);
      for (const p of predictions) {
        expect(p.degraded).toBe(true);
        expect(p.reasons).toContain(POPULATION_ONLY.unavailable);
      }
      expect(outcomes).toEqual([{ transactions: 3, degraded: 3, flagged: 0, foldSkipped: { unavailable: 3, conflict: 0 }, conflicts: 0 }]);
    } finally {
      await store.close();
      client.disconnect();
    }
  });

  it('counts the transactions of customers whose write-back was given up', async () => {
    const memory = new MemoryProfileStore({ max: 10, ttlMs: DAY });
    // A store whose writes always lose the race for u1 (as another replica would make them).
    const racing: ProfileStore = {
      mode: 'memory',
      load: (ids) => memory.load(ids),
      commit: async (updates) => {
        const r = await memory.commit(updates.filter((u) => u.userId !== 'u1'));
        return { ...r, conflicts: r.conflicts + 9, failed: [...r.failed, { userId: 'u1', reason: 'conflict' }] };
      },
      status: () => memory.status(),
      onDegradedChange: () => () => undefined,
      close: () => memory.close(),
    };
    const { scorer, outcomes } = setup(racing);
    await scorer.score([tx({ transaction_id: 'a', user_id: 'u1' }), tx({ transaction_id: 'b', user_id: 'u1' }), tx({ transaction_id: 'c', user_id: 'u2' })], 1000);
    expect(outcomes).toEqual([{ transactions: 3, degraded: 0, flagged: 0, foldSkipped: { unavailable: 0, conflict: 2 }, conflicts: 9 }]);
  });

  it("gives each request one Redis budget for its reads and writes, charged only while they wait", async () => {
    const memory = new MemoryProfileStore({ max: 10, ttlMs: DAY });
    const seen: { load: unknown[]; commit: unknown[] } = { load: [], commit: [] };
    const slowRedis: ProfileStore = {
      mode: 'redis',
      load: async (ids, budget) => {
        seen.load.push(budget);
        // Waits 30 ms on "Redis" inside the budget.
        return (budget as RedisBudget).run(() => new Promise((r) => setTimeout(r, 30)).then(() => memory.load(ids)));
      },
      commit: async (updates, budget) => {
        seen.commit.push(budget);
        return memory.commit(updates);
      },
      status: () => ({ mode: 'redis', degraded: false }),
      onDegradedChange: () => () => undefined,
      close: () => memory.close(),
    };
    const scorer = new TransactionScorer({ store: slowRedis, model: detector, redisBudgetMs: 250 });
    await scorer.score([tx({ transaction_id: 'a', user_id: 'u1' }), tx({ transaction_id: 'b', user_id: 'u2' })], 1000);
    await scorer.score([tx({ transaction_id: 'c', user_id: 'u1' })], 1000);
    const [first, second] = seen.load as RedisBudget[];
    expect(first).toBeInstanceOf(RedisBudget);
    expect(first.totalMs).toBe(250);
    // One budget per request, the same for its read and its write-back.
    expect(seen.commit).toEqual([first, second]);
    expect(second).not.toBe(first);
    // Only the read's wait was charged, not the model's time or the lock.
    expect(first.spentMsSoFar).toBeGreaterThanOrEqual(29);
    expect(first.spentMsSoFar).toBeLessThan(120);
    // Without redisBudgetMs (the memory store) no budget is made.
    const { scorer: plain } = setup(slowRedis);
    seen.load.length = 0;
    await plain.score([tx({ transaction_id: 'd', user_id: 'u3' })], 1000).catch(() => undefined);
    expect(seen.load).toEqual([undefined]);
  });

  it('gives up with DEADLINE_EXCEEDED when the customer stays busy past the budget, without blocking later requests', async () => {
    const locks = new KeyedLock();
    const { scorer } = setup(undefined, locks);
    const hold = await locks.acquire(['u1']);
    const err = await scorer.score([tx({ transaction_id: 't', user_id: 'u1' })], 50).catch((e: unknown) => e);
    expect(isProfileLockTimeoutError(err)).toBe(true);
    hold();
    const [p] = await scorer.score([tx({ transaction_id: 't', user_id: 'u1' })], 1000);
    expect(p.transaction_id).toBe('t');
    expect(locks.size).toBe(0);
  });

  it('fails the request (and releases the customer) on a store error that is not an outage', async () => {
    const broken: ProfileStore = {
      mode: 'memory',
      load: async () => {
        throw new TypeError('bug');
      },
      commit: async () => ({ written: 0, unchanged: 0, conflicts: 0, failed: [] }),
      status: () => ({ mode: 'memory', degraded: false }),
      onDegradedChange: () => () => undefined,
      close: async () => undefined,
    };
    const locks = new KeyedLock();
    const { scorer } = setup(broken, locks);
    await expect(scorer.score([tx({ transaction_id: 't', user_id: 'u1' })], 1000)).rejects.toThrow('bug');
    expect(locks.size).toBe(0);
  });
});
