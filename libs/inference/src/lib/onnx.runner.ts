import * as ort from 'onnxruntime-node';
import { Worker } from 'node:worker_threads';
import { InferenceWorkerExitedError, ModelLoadError } from './inference.errors';

/** A tensor crossing the runner boundary: plain data, so it can also cross a thread boundary. */
export type TensorData =
  | { type: 'string'; data: string[]; dims: number[] }
  | { type: 'float32'; data: Float32Array; dims: number[] }
  | { type: 'int64'; data: BigInt64Array; dims: number[] };

export type Feeds = Record<string, TensorData>;
export type Outputs = Record<string, { data: Float32Array | BigInt64Array | string[]; dims: number[] }>;

/** Runs a loaded ONNX model. One call = one `session.run`; batching happens above this. */
export interface OnnxRunner {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  /**
   * How many runs may be in flight at once: 1 in process; two per worker otherwise, so that each
   * worker has its next batch already waiting when it finishes one.
   */
  readonly concurrency: number;
  run(feeds: Feeds): Promise<Outputs>;
  close(): Promise<void>;
}

/**
 * Session options for `intraOpThreads` threads per run. More than one (the default: one session
 * running each batch on both cores) turns spinning off, so idle intra-op threads sleep instead of
 * competing with the event loop. Memory patterns are off: they plan buffers per input shape, and a
 * text model's shapes change with every batch (token counts), so they only kept arena memory
 * (measured: -5 MB per session after load, no change in predictions/s).
 */
export function sessionOptions(intraOpThreads = 1): ort.InferenceSession.SessionOptions {
  return {
    intraOpNumThreads: intraOpThreads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
    enableMemPattern: false,
    ...(intraOpThreads > 1 ? { extra: { session: { intra_op: { allow_spinning: '0' } } } } : {}),
  };
}

const toTensor = (t: TensorData) => new ort.Tensor(t.type, t.data, t.dims);

/** `session.run` on the calling thread: simple, but inference then competes with HTTP for one core. */
export class InProcessRunner implements OnnxRunner {
  readonly concurrency = 1;
  private constructor(private readonly session: ort.InferenceSession) {}

  static async load(modelPath: string, intraOpThreads = 1): Promise<InProcessRunner> {
    try {
      return new InProcessRunner(await ort.InferenceSession.create(modelPath, sessionOptions(intraOpThreads)));
    } catch (e) {
      throw new ModelLoadError(`onnxruntime could not load ${modelPath}: ${(e as Error).message}`);
    }
  }

  get inputNames() {
    return this.session.inputNames;
  }
  get outputNames() {
    return this.session.outputNames;
  }

  async run(feeds: Feeds): Promise<Outputs> {
    const input: Record<string, ort.Tensor> = {};
    for (const [k, v] of Object.entries(feeds)) input[k] = toTensor(v);
    const result = await this.session.run(input);
    const out: Outputs = {};
    for (const [k, v] of Object.entries(result)) out[k] = { data: v.data as Float32Array, dims: [...v.dims] };
    return out;
  }

  async close() {
    await this.session.release();
  }
}

// The worker is plain JavaScript evaluated from a string, so it needs no separate build entry and
// works the same under webpack, ts-node and Jest. It loads onnxruntime from the path we pass it.
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const ort = require(workerData.ortPath);
let session;
ort.InferenceSession.create(workerData.modelPath, workerData.options).then(
  (s) => { session = s; parentPort.postMessage({ ready: true, inputNames: s.inputNames, outputNames: s.outputNames }); },
  (e) => parentPort.postMessage({ ready: false, error: String(e && e.message || e) }),
);
parentPort.on('message', async ({ id, feeds }) => {
  try {
    const input = {};
    for (const k of Object.keys(feeds)) input[k] = new ort.Tensor(feeds[k].type, feeds[k].data, feeds[k].dims);
    const result = await session.run(input);
    const out = {}; const transfer = [];
    for (const k of Object.keys(result)) {
      const data = result[k].data;
      out[k] = { data, dims: Array.from(result[k].dims) };
      if (data && data.buffer instanceof ArrayBuffer) transfer.push(data.buffer);
    }
    parentPort.postMessage({ id, out }, transfer);
  } catch (e) {
    parentPort.postMessage({ id, error: String(e && e.message || e) });
  }
});
`;

declare const __non_webpack_require__: NodeJS.Require | undefined;
const nodeRequire: NodeJS.Require = typeof __non_webpack_require__ === 'function' ? __non_webpack_require__ : require;

interface WorkerSlot {
  worker: Worker;
  pending: Map<number, { resolve: (o: Outputs) => void; reject: (e: Error) => void }>;
  /** False from the worker's exit until a replacement has loaded the model. */
  alive: boolean;
}

/** How a started worker reports that it has exited (the runner restarts it). */
type ExitHandler = (slot: WorkerSlot, exitCode: number) => void;

/**
 * Runs handed to one worker at a time: the one it is running and the next, queued in its message
 * port. With one, a worker idled from the end of each run until the event loop, busy parsing or
 * answering a batch request, got round to sending the next (measured: the batch endpoint then
 * kept ~73% of in-process throughput). Only one more, so a queued run waits at most one run.
 */
const RUNS_PER_WORKER = 2;

/** Wait between attempts to replace a worker whose replacement failed to load the model. */
const RESPAWN_DELAY_MS = 1000;

/**
 * Sessions in worker threads, one per worker: inference runs beside the event loop instead of
 * blocking it, so HTTP and inference use different cores.
 */
export class WorkerRunner implements OnnxRunner {
  private nextId = 0;
  private closed = false;
  private constructor(
    private readonly slots: WorkerSlot[],
    readonly inputNames: readonly string[],
    readonly outputNames: readonly string[],
    private readonly start: (onExit: ExitHandler) => Promise<WorkerSlot>,
    private readonly modelPath: string,
  ) {}

  get concurrency() {
    return this.slots.length * RUNS_PER_WORKER;
  }

  static async load(modelPath: string, workers: number, intraOpThreads = 1): Promise<WorkerRunner> {
    const ortPath = nodeRequire.resolve('onnxruntime-node');
    const options = sessionOptions(intraOpThreads);
    // A worker that exits after loading but before the runner exists is replaced once it does.
    let onExit: ExitHandler = () => undefined;
    const exited: ExitHandler = (slot, code) => onExit(slot, code);
    // All workers load at once: start-up waits for the slowest session, not for the sum of them.
    const started = Array.from({ length: workers }, () => WorkerRunner.startWorker(ortPath, modelPath, options, exited));
    const settled = await Promise.allSettled(started);
    const slots = settled.flatMap((r) => (r.status === 'fulfilled' ? [r.value.slot] : []));
    const failed = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) {
      for (const s of slots) s.alive = false;
      await Promise.all(slots.map((s) => s.worker.terminate()));
      throw failed.reason;
    }
    const { inputNames, outputNames } = (settled[0] as PromiseFulfilledResult<{ names: { inputNames: string[]; outputNames: string[] } }>).value.names;
    const start = async (handler: ExitHandler) => (await WorkerRunner.startWorker(ortPath, modelPath, options, handler)).slot;
    const runner = new WorkerRunner(slots, inputNames, outputNames, start, modelPath);
    onExit = (slot, code) => runner.replace(slot, code);
    for (const s of slots) if (!s.alive) runner.respawn(s);
    return runner;
  }

  private static async startWorker(
    ortPath: string,
    modelPath: string,
    options: ort.InferenceSession.SessionOptions,
    onExit: ExitHandler,
  ): Promise<{ slot: WorkerSlot; names: { inputNames: string[]; outputNames: string[] } }> {
    const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { ortPath, modelPath, options } });
    let ready: { ready: boolean; error?: string; inputNames: string[]; outputNames: string[] };
    try {
      ready = await new Promise((resolve, reject) => {
        worker.once('message', resolve);
        worker.once('error', reject);
      });
    } catch (e) {
      await worker.terminate();
      throw new ModelLoadError(`onnxruntime could not load ${modelPath}: ${(e as Error).message}`);
    }
    if (!ready.ready) {
      await worker.terminate();
      throw new ModelLoadError(`onnxruntime could not load ${modelPath}: ${ready.error}`);
    }
    const slot: WorkerSlot = { worker, pending: new Map(), alive: true };
    worker.on('message', (msg: { id: number; out?: Outputs; error?: string }) => {
      const p = slot.pending.get(msg.id);
      if (!p) return;
      slot.pending.delete(msg.id);
      if (msg.error !== undefined) p.reject(new Error(msg.error));
      else p.resolve(msg.out as Outputs);
    });
    // An uncaught error ends the worker: its runs are failed on 'exit', which always follows.
    worker.on('error', () => undefined);
    worker.on('exit', (code) => {
      if (!slot.alive) return; // terminated on purpose
      slot.alive = false;
      onExit(slot, code);
    });
    worker.unref();
    return { slot, names: { inputNames: ready.inputNames, outputNames: ready.outputNames } };
  }

  run(feeds: Feeds): Promise<Outputs> {
    // The least loaded live worker: an idle one if any, else one with a single run in flight.
    let slot: WorkerSlot | undefined;
    for (const s of this.slots) if (s.alive && (!slot || s.pending.size < slot.pending.size)) slot = s;
    if (!slot) return Promise.reject(new InferenceWorkerExitedError(this.modelPath, undefined));
    const target = slot;
    const id = this.nextId++;
    return new Promise<Outputs>((resolve, reject) => {
      target.pending.set(id, { resolve, reject });
      target.worker.postMessage({ id, feeds });
    });
  }

  /**
   * A worker exited by itself (it should not: a run's own errors are caught and answered). Its
   * runs in flight fail with a retryable 503, the other workers take new runs, and a replacement
   * loads the model; until it has, the slot takes nothing (with no live worker at all, runs get
   * the same 503). A replacement that cannot load is tried again every second.
   */
  private replace(dead: WorkerSlot, exitCode: number) {
    const error = new InferenceWorkerExitedError(this.modelPath, exitCode);
    for (const p of dead.pending.values()) p.reject(error);
    dead.pending.clear();
    this.respawn(dead);
  }

  private respawn(dead: WorkerSlot) {
    if (this.closed) return;
    this.start((slot, code) => this.replace(slot, code)).then(
      (fresh) => {
        const i = this.slots.indexOf(dead);
        if (this.closed || i < 0) {
          fresh.alive = false;
          void fresh.worker.terminate();
          return;
        }
        this.slots[i] = fresh;
      },
      () => setTimeout(() => this.respawn(dead), RESPAWN_DELAY_MS).unref(),
    );
  }

  async close() {
    this.closed = true;
    for (const s of this.slots) s.alive = false;
    await Promise.all(this.slots.map((s) => s.worker.terminate()));
  }
}

/** In process for `workers` = 0, else that many worker threads; each session runs a batch on `intraOpThreads` threads. */
export function loadRunner(modelPath: string, workers: number, intraOpThreads = 1): Promise<OnnxRunner> {
  return workers > 0 ? WorkerRunner.load(modelPath, workers, intraOpThreads) : InProcessRunner.load(modelPath, intraOpThreads);
}
