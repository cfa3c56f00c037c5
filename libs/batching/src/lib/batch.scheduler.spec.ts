import { BatchScheduler, type BatchEvent, type RejectEvent } from './batch.scheduler';
import { DeadlineExceededError, QueueFullError } from './batching.errors';

/** A runner we control: each call waits until the test releases it. */
function controlledRunner() {
  const calls: { inputs: number[]; release: (fail?: Error) => void }[] = [];
  const run = (inputs: number[]) =>
    new Promise<number[]>((resolve, reject) => {
      calls.push({ inputs, release: (fail) => (fail ? reject(fail) : resolve(inputs.map((x) => x * 10))) });
    });
  return { calls, run };
}

const flush = async () => {
  // setImmediate-driven pumps and promise continuations
  for (let i = 0; i < 5; i++) {
    jest.advanceTimersByTime(0);
    await Promise.resolve();
    jest.runOnlyPendingTimers();
    await Promise.resolve();
  }
};

describe('BatchScheduler', () => {
  let clock = 0;
  beforeEach(() => {
    clock = 0;
    jest.useFakeTimers();
  });
  afterEach(() => jest.useRealTimers());

  const make = (over: Partial<ConstructorParameters<typeof BatchScheduler<number, number>>[0]> = {}) => {
    const r = controlledRunner();
    const s = new BatchScheduler<number, number>({
      name: 'm',
      maxBatchSize: 4,
      maxQueueDelayMs: 0,
      maxQueueSize: 10,
      concurrency: 1,
      run: r.run,
      now: () => clock,
      ...over,
    });
    const batches: BatchEvent[] = [];
    const rejects: RejectEvent[] = [];
    s.onBatch((e) => batches.push(e));
    s.onReject((e) => rejects.push(e));
    return { s, ...r, batches, rejects };
  };

  it('runs a lone request at once when idle', async () => {
    const { s, calls } = make();
    const p = s.submit(1);
    await flush();
    expect(calls.map((c) => c.inputs)).toEqual([[1]]);
    calls[0].release();
    await expect(p).resolves.toBe(10);
  });

  it('coalesces requests that arrive in the same turn into one run', async () => {
    const { s, calls } = make();
    const ps = [s.submit(1), s.submit(2), s.submit(3)];
    await flush();
    expect(calls.map((c) => c.inputs)).toEqual([[1, 2, 3]]);
    calls[0].release();
    await expect(Promise.all(ps)).resolves.toEqual([10, 20, 30]);
  });

  it('queues arrivals while a run is busy and runs them together next, in order, capped at maxBatchSize', async () => {
    const { s, calls, batches } = make();
    const first = s.submit(0);
    await flush();
    const later = [1, 2, 3, 4, 5, 6].map((x) => s.submit(x));
    await flush();
    expect(calls).toHaveLength(1);
    expect(s.queued).toBe(6);
    clock = 5;
    calls[0].release();
    await flush();
    expect(calls[1].inputs).toEqual([1, 2, 3, 4]);
    calls[1].release();
    await flush();
    expect(calls[2].inputs).toEqual([5, 6]);
    calls[2].release();
    await expect(first).resolves.toBe(0);
    await expect(Promise.all(later)).resolves.toEqual([10, 20, 30, 40, 50, 60]);
    expect(batches.map((b) => b.size)).toEqual([1, 4, 2]);
    expect(batches[1].queueWaitMs).toEqual([5, 5, 5, 5]);
  });

  it('runs up to `concurrency` batches at once', async () => {
    const { s, calls } = make({ concurrency: 2, maxBatchSize: 2 });
    [1, 2, 3, 4, 5].forEach((x) => void s.submit(x));
    await flush();
    expect(calls.map((c) => c.inputs)).toEqual([
      [1, 2],
      [3, 4],
    ]);
    expect(s.inFlightRuns).toBe(2);
    calls[1].release();
    await flush();
    expect(calls[2].inputs).toEqual([5]);
  });

  it('with parallelRunMinItems, starts another run beside a busy one only for that many waiting items', async () => {
    const { s, calls } = make({ concurrency: 2, maxBatchSize: 3, parallelRunMinItems: 3 });
    void s.submit(1);
    await flush();
    expect(calls.map((c) => c.inputs)).toEqual([[1]]);
    // Two waiting items: the second runner stays idle, they wait for the busy run.
    [2, 3].forEach((x) => void s.submit(x));
    await flush();
    expect(calls).toHaveLength(1);
    // A full batch waiting: the second runner takes it.
    void s.submit(4);
    await flush();
    expect(calls.map((c) => c.inputs)).toEqual([[1], [2, 3, 4]]);
    [5, 6].forEach((x) => void s.submit(x));
    await flush();
    expect(calls).toHaveLength(2);
    // One runner frees up, the other is still busy, and 2 < 3 items wait: still no new run.
    calls[0].release();
    await flush();
    expect(calls).toHaveLength(2);
    // No run in flight: whatever waits runs at once.
    calls[1].release();
    await flush();
    expect(calls.map((c) => c.inputs)).toEqual([[1], [2, 3, 4], [5, 6]]);
  });

  it('waits up to maxQueueDelayMs for a fuller batch, then runs what it has', async () => {
    const { s, calls } = make({ maxQueueDelayMs: 2 });
    void s.submit(1);
    await Promise.resolve();
    jest.advanceTimersByTime(0);
    expect(calls).toHaveLength(0);
    clock = 1;
    void s.submit(2);
    jest.advanceTimersByTime(1);
    clock = 2;
    jest.advanceTimersByTime(1);
    await flush();
    expect(calls.map((c) => c.inputs)).toEqual([[1, 2]]);
  });

  it('does not wait when the batch is already full', async () => {
    const { s, calls } = make({ maxQueueDelayMs: 50 });
    [1, 2, 3, 4].forEach((x) => void s.submit(x));
    await Promise.resolve();
    jest.advanceTimersByTime(0);
    expect(calls.map((c) => c.inputs)).toEqual([[1, 2, 3, 4]]);
  });

  it('sheds load with QUEUE_FULL beyond maxQueueSize, never growing without bound', async () => {
    const { s, calls, rejects } = make({ maxQueueSize: 3 });
    void s.submit(0);
    await flush(); // 0 is running, the queue is empty
    const queued = [1, 2, 3].map((x) => s.submit(x));
    const refused = s.submit(4);
    await expect(refused).rejects.toBeInstanceOf(QueueFullError);
    await expect(refused).rejects.toMatchObject({ code: 'QUEUE_FULL', retryAfterSeconds: 1 });
    expect(s.queued).toBe(3);
    expect(rejects).toEqual([{ model: 'm', reason: 'queue_full', count: 1 }]);
    calls[0].release();
    await flush();
    calls[1].release();
    await expect(Promise.all(queued)).resolves.toEqual([10, 20, 30]);
  });

  it('accepts a group all or nothing', async () => {
    const { s } = make({ maxQueueSize: 3 });
    const ps = s.submitAll([1, 2, 3, 4]);
    expect(ps).toHaveLength(4);
    for (const p of ps) await expect(p).rejects.toBeInstanceOf(QueueFullError);
    expect(s.queued).toBe(0);
  });

  it('drops a queued item when its deadline passes and never runs it', async () => {
    const { s, calls, rejects } = make();
    void s.submit(0);
    await flush();
    const doomed = s.submit(1, 100);
    const fine = s.submit(2);
    jest.advanceTimersByTime(99);
    expect(s.queued).toBe(2);
    clock = 100;
    jest.advanceTimersByTime(1);
    await expect(doomed).rejects.toBeInstanceOf(DeadlineExceededError);
    await expect(doomed).rejects.toMatchObject({ code: 'DEADLINE_EXCEEDED' });
    expect(s.queued).toBe(1);
    expect(rejects).toEqual([{ model: 'm', reason: 'deadline', count: 1 }]);
    calls[0].release();
    await flush();
    expect(calls[1].inputs).toEqual([2]);
    calls[1].release();
    await expect(fine).resolves.toBe(20);
  });

  it('keeps an item whose run started before its deadline', async () => {
    const { s, calls } = make();
    const p = s.submit(1, 10);
    await flush();
    clock = 50;
    jest.advanceTimersByTime(50);
    calls[0].release();
    await expect(p).resolves.toBe(10);
  });

  it('fails every item of a batch whose run fails, and keeps serving', async () => {
    const { s, calls, batches } = make();
    const ps = [s.submit(1), s.submit(2)];
    await flush();
    calls[0].release(new Error('onnx exploded'));
    for (const p of ps) await expect(p).rejects.toThrow('onnx exploded');
    expect(batches[0].ok).toBe(false);
    const next = s.submit(3);
    await flush();
    calls[1].release();
    await expect(next).resolves.toBe(30);
  });

  it('fails a batch whose runner returns the wrong number of outputs', async () => {
    const s = new BatchScheduler<number, number>({
      name: 'm', maxBatchSize: 4, maxQueueDelayMs: 0, maxQueueSize: 10, concurrency: 1, run: async () => [1],
    });
    const ps = [s.submit(1), s.submit(2)];
    await flush();
    for (const p of ps) await expect(p).rejects.toThrow('runner returned 1 outputs for 2 inputs');
  });

  it('turns a synchronous throw of the runner into rejections', async () => {
    const s = new BatchScheduler<number, number>({
      name: 'm', maxBatchSize: 4, maxQueueDelayMs: 0, maxQueueSize: 10, concurrency: 1,
      run: () => {
        throw new Error('sync');
      },
    });
    const p = s.submit(1);
    await flush();
    await expect(p).rejects.toThrow('sync');
  });

  it('refuses new work after close but finishes what is queued', async () => {
    const { s, calls } = make();
    const p = s.submit(1);
    s.close();
    await expect(s.submit(2)).rejects.toBeInstanceOf(QueueFullError);
    await flush();
    calls[0].release();
    await expect(p).resolves.toBe(10);
  });

  it('isolates listeners that throw and allows unsubscribing', async () => {
    const { s, calls } = make();
    const seen: number[] = [];
    s.onBatch(() => {
      throw new Error('metrics bug');
    });
    const off = s.onBatch((e) => seen.push(e.size));
    const p = s.submit(1);
    await flush();
    calls[0].release();
    await expect(p).resolves.toBe(10);
    await flush();
    off();
    const q = s.submit(2);
    await flush();
    calls[1].release();
    await q;
    expect(seen).toEqual([1]);
  });

  it('validates its options', () => {
    expect(() => make({ maxBatchSize: 0 })).toThrow(RangeError);
    expect(() => make({ concurrency: 0 })).toThrow(RangeError);
  });
});
