import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { startDeployedApp, type DeployedApp, type EnvChange } from './targets';

/**
 * An API key made for one benchmark run, and the `ML_API_KEYS` entry that admits it: the gateway
 * runs with NODE_ENV=production, which refuses the development key.
 */
export function benchApiKey(): { key: string; keysEnv: string } {
  const key = `bench-${randomBytes(16).toString('hex')}`;
  return { key, keysEnv: `bench:${createHash('sha256').update(key).digest('hex')}` };
}

export interface GatewayStack {
  app: DeployedApp;
  gateway: DeployedApp;
  /** Stops the gateway, then the app. */
  stop(): Promise<void>;
}

export interface GatewayStackOptions {
  /** Where both logs go, as `intent-classifier-<tag>.log` and `gateway-<tag>.log`. */
  logDir: string;
  tag: string;
  /** The `ML_API_KEYS` value of the run's key (benchApiKey). */
  keysEnv: string;
  logLevel?: string;
  redisUrl?: string;
  /** The checkout whose build runs (default this workspace; see DeployedAppOptions.root). */
  root?: string;
  /** CPUs of the intent classifier (`taskset -c`), instead of the list every server gets. */
  appCpus?: string;
  /** More env changes, for both apps. */
  changes?: Record<string, EnvChange>;
}

/**
 * The intent classifier and the gateway in front of it, each its own process and as deployed,
 * with only what a one-machine benchmark must change for the gateway: the local app's address, a
 * closed port for the anomaly detector it does not run, the run's API key, a rate limit one key
 * cannot reach. If the gateway fails to start, the app is stopped before the error is rethrown.
 */
export async function startGatewayStack(options: GatewayStackOptions): Promise<GatewayStack> {
  const { logDir, tag, keysEnv, logLevel, redisUrl, root, appCpus, changes = {} } = options;
  mkdirSync(logDir, { recursive: true });
  const app = await startDeployedApp('intent-classifier', {
    root,
    logFile: join(logDir, `intent-classifier-${tag}.log`),
    logLevel,
    redisUrl,
    cpus: appCpus,
    changes,
  });
  try {
    const gateway = await startDeployedApp('gateway', {
      root,
      logFile: join(logDir, `gateway-${tag}.log`),
      logLevel,
      redisUrl,
      changes: {
        INTENT_CLASSIFIER_URL: { value: app.url, why: 'the local intent-classifier process' },
        ANOMALY_DETECTOR_URL: { value: 'http://127.0.0.1:9', why: 'not run here: a closed local port instead of an unresolvable name' },
        ML_API_KEYS: { value: keysEnv, why: 'a key made for this run' },
        RATE_LIMIT_REQUESTS: { value: '100000000', why: 'raised: one key sends all the load' },
        ...changes,
      },
    });
    return {
      app,
      gateway,
      stop: async () => {
        await gateway.stop();
        await app.stop();
      },
    };
  } catch (e) {
    await app.stop();
    throw e;
  }
}
