import { RetryBudget, type RetryBudgetOptions } from './retry-budget';
import type { Clock } from './resilience.types';

describe('RetryBudget', () => {
  let t: number;
  const clock: Clock = { now: () => t };
  beforeEach(() => (t = 0));

  const takeAll = (budget: RetryBudget) => {
    let n = 0;
    while (budget.tryAcquire()) n++;
    return n;
  };

  it('grants retries up to ratio of recent calls and refuses past it', () => {
    const budget = new RetryBudget({ ratio: 0.2, minPerSecond: 0, clock });
    for (let i = 0; i < 10; i++) budget.recordCall();
    expect(budget.available()).toBe(2);
    expect(budget.tryAcquire()).toBe(true);
    expect(budget.tryAcquire()).toBe(true);
    expect(budget.tryAcquire()).toBe(false);
    expect(budget.available()).toBe(0);
    // Five more calls earn exactly one more retry (0.2 * 15 = 3).
    for (let i = 0; i < 5; i++) budget.recordCall();
    expect(takeAll(budget)).toBe(1);
  });

  it('grants minPerSecond * window seconds even without traffic', () => {
    const budget = new RetryBudget({ ratio: 0.2, minPerSecond: 0.5, windowMs: 10_000, clock });
    expect(takeAll(budget)).toBe(5);
  });

  it('adds the reserve to the ratio share', () => {
    const budget = new RetryBudget({ ratio: 0.5, minPerSecond: 1, windowMs: 2_000, clock });
    for (let i = 0; i < 4; i++) budget.recordCall();
    expect(takeAll(budget)).toBe(4); // 0.5 * 4 + 1 * 2
  });

  it('refills as spent retries slide out of the window', () => {
    const budget = new RetryBudget({ ratio: 0.2, minPerSecond: 0.3, windowMs: 10_000, windowBuckets: 10, clock });
    expect(takeAll(budget)).toBe(3);
    t = 9_999;
    expect(budget.tryAcquire()).toBe(false);
    t = 10_000;
    expect(takeAll(budget)).toBe(3);
  });

  it('forgets old calls too, so a traffic burst does not fund retries forever', () => {
    const budget = new RetryBudget({ ratio: 0.2, minPerSecond: 0, windowMs: 1_000, clock });
    for (let i = 0; i < 100; i++) budget.recordCall();
    expect(budget.available()).toBe(20);
    t = 1_000;
    expect(budget.available()).toBe(0);
  });

  it('uses the default ratio of 0.2 and an allowance of 10 per second over 10 s', () => {
    const budget = new RetryBudget({ clock });
    for (let i = 0; i < 50; i++) budget.recordCall();
    expect(budget.available()).toBe(110);
  });

  it.each<[string, RetryBudgetOptions]>([
    ['ratio', { ratio: 0 }],
    ['ratio', { ratio: 1.5 }],
    ['minPerSecond', { minPerSecond: -1 }],
    ['windowMs', { windowMs: 0 }],
    ['windowBuckets', { windowBuckets: 2.5 }],
  ])('rejects an invalid %s', (name, options) => {
    expect(() => new RetryBudget(options)).toThrow(new RegExp(`^${name} must`));
  });
});
