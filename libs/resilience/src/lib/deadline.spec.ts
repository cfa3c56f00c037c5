import { Deadline } from './deadline';
import type { Clock } from './resilience.types';

describe('Deadline', () => {
  let t: number;
  const clock: Clock = { now: () => t };
  beforeEach(() => (t = 5_000));

  it('counts down from after(ms) and expires exactly at its time', () => {
    const d = Deadline.after(300, clock);
    expect(d.at).toBe(5_300);
    expect(d.remainingMs()).toBe(300);
    t = 5_299;
    expect(d.expired).toBe(false);
    expect(d.remainingMs()).toBe(1);
    t = 5_300;
    expect(d.expired).toBe(true);
    t = 9_000;
    expect(d.remainingMs()).toBe(0);
  });

  it('can be built at an absolute time', () => {
    const d = Deadline.at(4_000, clock);
    expect(d.expired).toBe(true);
    expect(Deadline.at(6_000, clock).remainingMs()).toBe(1_000);
  });

  it('within(ms) keeps the earlier of the two', () => {
    const d = Deadline.after(1_000, clock);
    expect(d.within(200).at).toBe(5_200);
    expect(d.within(5_000)).toBe(d);
  });

  it('uses the system clock by default (faked by jest)', () => {
    jest.useFakeTimers();
    try {
      const d = Deadline.after(100);
      jest.advanceTimersByTime(60);
      expect(d.remainingMs()).toBe(40);
    } finally {
      jest.useRealTimers();
    }
  });

  it('rejects a negative or NaN time', () => {
    expect(() => Deadline.after(-1, clock)).toThrow(RangeError);
    expect(() => Deadline.after(NaN, clock)).toThrow(RangeError);
    expect(() => Deadline.at(NaN, clock)).toThrow(RangeError);
  });
});
