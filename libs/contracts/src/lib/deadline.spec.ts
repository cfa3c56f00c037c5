import { elapsedSinceReceivedMs, markReceived, receivedAt, remainingBudgetMs } from './deadline';

describe('the request clock', () => {
  it('keeps the first arrival stamp of a request', () => {
    const raw = {};
    expect(receivedAt(raw)).toBeUndefined();
    markReceived(raw, 100);
    markReceived(raw, 200);
    expect(receivedAt(raw)).toBe(100);
  });

  it('counts the time since arrival against the budget, never below 0', () => {
    const raw = {};
    markReceived(raw, performance.now() - 300);
    expect(elapsedSinceReceivedMs(raw)).toBeGreaterThanOrEqual(300);
    const left = remainingBudgetMs(raw, undefined, 2000);
    expect(left).toBeLessThanOrEqual(1700);
    expect(left).toBeGreaterThan(1500);
    // The client's shorter budget is the one spent.
    expect(remainingBudgetMs(raw, '500', 2000)).toBeLessThanOrEqual(200);
    expect(remainingBudgetMs(raw, '100', 2000)).toBe(0);
  });

  it('gives an unstamped request its whole budget', () => {
    expect(elapsedSinceReceivedMs({})).toBeUndefined();
    expect(remainingBudgetMs({}, '750', 2000)).toBe(750);
  });
});
