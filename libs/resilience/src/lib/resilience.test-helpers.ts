// Spec-only helpers (not exported from the lib's index).

export interface Tracked<T> {
  readonly settled: boolean;
  readonly value: T | undefined;
  readonly error: unknown;
  /** Resolves once the tracked promise settles, never rejects. */
  readonly done: Promise<void>;
}

/** Observes a promise without letting its rejection go unhandled while fake time is advanced. */
export function track<T>(promise: Promise<T>): Tracked<T> {
  const state: { settled: boolean; value: T | undefined; error: unknown; done: Promise<void> } = {
    settled: false,
    value: undefined,
    error: undefined,
    done: Promise.resolve(),
  };
  state.done = promise.then(
    (value) => {
      state.settled = true;
      state.value = value;
    },
    (error: unknown) => {
      state.settled = true;
      state.error = error;
    },
  );
  return state;
}

/** A promise settled from outside, to hold a call in flight. */
export function deferred<T = void>() {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** Resolves after `ms` of (fake) time. */
export const delay = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Lets pending promise callbacks run without moving time. */
export const flush = () => jest.advanceTimersByTimeAsync(0);
