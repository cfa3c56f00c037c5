import { env, loadEnv, type Env } from '@ml/config';

export interface AdmissionSettings {
  /** Off: nothing is shed here (the queues' own bounds still hold). */
  enabled: boolean;
  minInFlight: number;
  maxInFlight: number;
  fairnessAt: number;
  windowMs: number;
}

/** `ADMISSION_*`: load shedding at an app's front door (see AdmissionController). */
export function loadAdmissionSettings(source: Env = process.env): AdmissionSettings {
  const e = loadEnv(
    {
      ADMISSION_ENABLED: env.bool(true),
      ADMISSION_MIN_IN_FLIGHT: env.int(32, { min: 1, max: 1_000_000 }),
      ADMISSION_MAX_IN_FLIGHT: env.int(1024, { min: 1, max: 1_000_000 }),
      ADMISSION_FAIRNESS_AT: env.number(0.5, { min: 0.01, max: 1 }),
      ADMISSION_WINDOW_MS: env.int(1000, { min: 10, max: 60_000 }),
    },
    source,
  );
  return {
    enabled: e.ADMISSION_ENABLED as boolean,
    minInFlight: e.ADMISSION_MIN_IN_FLIGHT as number,
    // A maximum below the minimum would refuse what the minimum promises: the larger wins.
    maxInFlight: Math.max(e.ADMISSION_MAX_IN_FLIGHT as number, e.ADMISSION_MIN_IN_FLIGHT as number),
    fairnessAt: e.ADMISSION_FAIRNESS_AT as number,
    windowMs: e.ADMISSION_WINDOW_MS as number,
  };
}
