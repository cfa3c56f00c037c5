import { LogThrottle } from './log-throttle';

describe('LogThrottle', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  const make = (opts: { intervalMs?: number; maxKeys?: number } = {}) => {
    const summaries: Array<{ sample: string; suppressed: number; key: string }> = [];
    const throttle = new LogThrottle<string>({ ...opts, onSummary: (sample, suppressed, key) => summaries.push({ sample, suppressed, key }) });
    return { throttle, summaries };
  };

  it('admits the first occurrence of a key and counts the rest', () => {
    const { throttle, summaries } = make();
    expect(throttle.admit('a', 'first')).toBe(true);
    let admitted = 0;
    for (let i = 0; i < 70_000; i++) if (throttle.admit('a', 'later')) admitted++;
    expect(admitted).toBe(0);
    expect(summaries).toEqual([]);
    jest.advanceTimersByTime(10_000);
    // One summary line, carrying the first occurrence's sample.
    expect(summaries).toEqual([{ sample: 'first', suppressed: 70_000, key: 'a' }]);
  });

  it('writes one summary per interval while a storm lasts, and nothing more at once', () => {
    const { throttle, summaries } = make({ intervalMs: 1000 });
    const admitted: boolean[] = [];
    for (let t = 0; t < 5000; t += 10) {
      admitted.push(throttle.admit('a', 's'));
      jest.advanceTimersByTime(10);
    }
    expect(admitted.filter(Boolean)).toHaveLength(1);
    expect(summaries.map((s) => s.suppressed)).toEqual([99, 100, 100, 100, 100]);
  });

  it('keeps keys apart', () => {
    const { throttle, summaries } = make();
    expect(throttle.admit('a', 'A')).toBe(true);
    expect(throttle.admit('b', 'B')).toBe(true);
    throttle.admit('a', 'A');
    jest.advanceTimersByTime(10_000);
    expect(summaries).toEqual([{ sample: 'A', suppressed: 1, key: 'a' }]);
  });

  it('forgets a key after a quiet interval, so its next occurrence is logged in full again', () => {
    const { throttle, summaries } = make();
    expect(throttle.admit('a', 's')).toBe(true);
    jest.advanceTimersByTime(10_000);
    expect(throttle.size).toBe(0);
    expect(summaries).toEqual([]);
    expect(throttle.admit('a', 's')).toBe(true);
  });

  it('after a summary, a key stays throttled until an interval passes without it', () => {
    const { throttle, summaries } = make();
    throttle.admit('a', 's');
    throttle.admit('a', 's');
    jest.advanceTimersByTime(10_000);
    expect(summaries).toHaveLength(1);
    expect(throttle.admit('a', 's')).toBe(false);
    jest.advanceTimersByTime(10_000);
    expect(summaries).toHaveLength(2);
    jest.advanceTimersByTime(10_000);
    expect(throttle.admit('a', 's')).toBe(true);
  });

  it('stops its timer when nothing is tracked', () => {
    const { throttle } = make();
    throttle.admit('a', 's');
    expect(jest.getTimerCount()).toBe(1);
    jest.advanceTimersByTime(10_000);
    expect(jest.getTimerCount()).toBe(0);
  });

  it('past maxKeys admits new keys every time instead of remembering them', () => {
    const { throttle } = make({ maxKeys: 2 });
    throttle.admit('a', 's');
    throttle.admit('b', 's');
    expect(throttle.admit('c', 's')).toBe(true);
    expect(throttle.admit('c', 's')).toBe(true);
    expect(throttle.admit('a', 's')).toBe(false);
    expect(throttle.size).toBe(2);
  });

  it('summarises what is pending on close, then holds nothing', () => {
    const { throttle, summaries } = make();
    throttle.admit('a', 's');
    throttle.admit('a', 's');
    throttle.close();
    expect(summaries).toEqual([{ sample: 's', suppressed: 1, key: 'a' }]);
    expect(throttle.size).toBe(0);
    expect(jest.getTimerCount()).toBe(0);
  });

  it('keeps summarising other keys when the sink throws', () => {
    const seen: string[] = [];
    const throttle = new LogThrottle<string>({
      onSummary: (_s, _n, key) => {
        seen.push(key);
        if (key === 'a') throw new Error('sink down');
      },
    });
    for (const key of ['a', 'a', 'b', 'b']) throttle.admit(key, key);
    expect(() => jest.advanceTimersByTime(10_000)).not.toThrow();
    expect(seen).toEqual(['a', 'b']);
  });
});
