import { isProfileLockTimeoutError } from './anomaly.errors';
import { KeyedLock } from './keyed.lock';

const tick = () => new Promise((r) => setImmediate(r));

describe('KeyedLock', () => {
  it('serialises holders of one key in arrival order and forgets the key afterwards', async () => {
    const lock = new KeyedLock();
    const order: string[] = [];
    const run = async (name: string) => {
      const release = await lock.acquire(['u1']);
      order.push(`${name}:in`);
      await tick();
      order.push(`${name}:out`);
      release();
    };
    await Promise.all([run('a'), run('b'), run('c')]);
    expect(order).toEqual(['a:in', 'a:out', 'b:in', 'b:out', 'c:in', 'c:out']);
    expect(lock.size).toBe(0);
  });

  it('lets different keys run at the same time', async () => {
    const lock = new KeyedLock();
    const r1 = await lock.acquire(['u1']);
    const r2 = await lock.acquire(['u2']);
    expect(lock.size).toBe(2);
    r1();
    r2();
    expect(lock.size).toBe(0);
  });

  it('takes several keys at once without deadlock, whatever order they are named in', async () => {
    const lock = new KeyedLock();
    const held = new Set<string>();
    let overlaps = 0;
    const run = async (keys: string[]) => {
      const release = await lock.acquire(keys);
      const unique = [...new Set(keys)];
      for (const k of unique) {
        if (held.has(k)) overlaps++;
        held.add(k);
      }
      await tick();
      for (const k of unique) held.delete(k);
      release();
    };
    const jobs: Promise<void>[] = [];
    for (let i = 0; i < 200; i++) {
      const keys = [`k${i % 5}`, `k${(i * 7) % 5}`, `k${(i * 3 + 1) % 5}`];
      jobs.push(run(i % 2 ? keys : keys.reverse()));
    }
    await Promise.all(jobs);
    expect(overlaps).toBe(0);
    expect(lock.size).toBe(0);
  });

  it('counts a repeated key once and ignores a second release', async () => {
    const lock = new KeyedLock();
    const release = await lock.acquire(['u1', 'u1']);
    const next = lock.acquire(['u1']);
    release();
    release();
    (await next)();
    expect(lock.size).toBe(0);
  });

  describe('with a timeout', () => {
    beforeEach(() => jest.useFakeTimers());
    afterEach(() => jest.useRealTimers());

    it('rejects a waiter whose turn does not come in time, and passes its turn on', async () => {
      const lock = new KeyedLock(() => Date.now());
      const first = await lock.acquire(['u1']);
      const late = lock.acquire(['u1'], 100);
      const after = lock.acquire(['u1'], 10_000);
      jest.advanceTimersByTime(100);
      const err = await late.catch((e: unknown) => e);
      expect(isProfileLockTimeoutError(err)).toBe(true);
      expect((err as { code: string }).code).toBe('DEADLINE_EXCEEDED');
      expect((err as { waitedMs: number }).waitedMs).toBe(100);
      first();
      const release = await after;
      release();
      expect(lock.size).toBe(0);
    });

    it('resolves a waiter whose turn comes before the timeout', async () => {
      const lock = new KeyedLock();
      const first = await lock.acquire(['u1']);
      const second = lock.acquire(['u1'], 1000);
      first();
      const release = await second;
      jest.advanceTimersByTime(2000);
      release();
      expect(lock.size).toBe(0);
    });
  });
});
