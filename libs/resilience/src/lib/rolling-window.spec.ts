import { RollingWindow } from './rolling-window';
import type { Clock } from './resilience.types';

describe('RollingWindow', () => {
  let t: number;
  const clock: Clock = { now: () => t };
  beforeEach(() => (t = 0));

  it('sums each field over the buckets still inside the window', () => {
    const w = new RollingWindow(1_000, 4, 2, clock); // 250 ms buckets
    w.add(0);
    w.add(1, 3);
    t = 260;
    w.add(0, 2);
    expect([w.sum(0), w.sum(1)]).toEqual([3, 3]);
    t = 999;
    expect(w.sum(0)).toBe(3);
    t = 1_000; // the first bucket [0, 250) has left
    expect([w.sum(0), w.sum(1)]).toEqual([2, 0]);
    t = 1_250;
    expect(w.sum(0)).toBe(0);
  });

  it('reuses a ring slot for a new time slice without leaking old counts', () => {
    const w = new RollingWindow(100, 2, 1, clock);
    w.add(0, 5);
    t = 100; // same slot as t=0, new slice
    w.add(0, 1);
    expect(w.sum(0)).toBe(1);
  });

  it('handles negative clock values', () => {
    t = -125;
    const w = new RollingWindow(100, 4, 1, clock);
    w.add(0);
    t = -60;
    w.add(0);
    expect(w.sum(0)).toBe(2);
  });

  it('reset() empties it', () => {
    const w = new RollingWindow(1_000, 10, 1, clock);
    w.add(0, 7);
    w.reset();
    expect(w.sum(0)).toBe(0);
  });
});
