import { loadAdmissionSettings, type AdmissionSettings } from '@ml/admission';
import { ConfigError, env, loadEnv, type Env } from '@ml/config';
import { resolve } from 'node:path';

export interface InferenceConfig {
  modelDir: string;
  /** `MODEL_VERSION_<NAME>` pin, if any. */
  pinnedVersion: string | undefined;
  /** Worker threads running sessions; 0 = run in the event-loop thread. */
  workers: number;
  /** Threads each session runs one batch on (1 = the calling thread only). */
  intraOpThreads: number;
  maxBatchSize: number;
  maxQueueDelayMs: number;
  maxQueueSize: number;
  /** Load shedding in front of the model (`ADMISSION_*`); the defaults when absent. */
  admission?: AdmissionSettings;
}

/** `intent-classifier` -> `MODEL_VERSION_INTENT_CLASSIFIER`. */
export const versionVariable = (model: string) => `MODEL_VERSION_${model.toUpperCase().replace(/[^A-Z0-9]+/g, '_')}`;

/**
 * The inference slice of the environment. `defaults` lets a model app choose its own defaults
 * where models differ (a tree ensemble takes 256-row runs as cheaply as 32; a text model's
 * memory grows with the run; a tree ensemble's tiny runs gain nothing from a second intra-op
 * thread), still overridable by the variables.
 */
export function loadInferenceConfig(
  model: string,
  source: Env = process.env,
  defaults: { maxBatchSize?: number; workers?: number; intraOpThreads?: number } = {},
): InferenceConfig {
  const pinVar = versionVariable(model);
  const e = loadEnv(
    {
      MODEL_DIR: env.string('models'),
      [pinVar]: env.optionalString(),
      // One session in one worker thread, running each batch on both cores of the 2-core target:
      // the event loop stays free, and the process holds one session's memory, not one per worker.
      INFERENCE_WORKERS: env.int(defaults.workers ?? 1, { min: 0, max: 16 }),
      INFERENCE_INTRA_OP_THREADS: env.int(defaults.intraOpThreads ?? 2, { min: 1, max: 64 }),
      INFERENCE_MAX_BATCH: env.int(defaults.maxBatchSize ?? 32, { min: 1, max: 1024 }),
      INFERENCE_MAX_DELAY_MS: env.number(0, { min: 0, max: 1000 }),
      INFERENCE_MAX_QUEUE: env.int(2048, { min: 1, max: 1_000_000 }),
    },
    source,
  );
  const pinned = e[pinVar] as string | undefined;
  if (pinned !== undefined && !/^\d+\.\d+\.\d+$/.test(pinned)) {
    throw new ConfigError(pinVar, `must be a version such as 1.0.0 (got ${JSON.stringify(pinned)})`);
  }
  return {
    modelDir: resolve(e.MODEL_DIR as string),
    pinnedVersion: pinned,
    workers: e.INFERENCE_WORKERS as number,
    intraOpThreads: e.INFERENCE_INTRA_OP_THREADS as number,
    maxBatchSize: e.INFERENCE_MAX_BATCH as number,
    maxQueueDelayMs: e.INFERENCE_MAX_DELAY_MS as number,
    maxQueueSize: e.INFERENCE_MAX_QUEUE as number,
    admission: loadAdmissionSettings(source),
  };
}
