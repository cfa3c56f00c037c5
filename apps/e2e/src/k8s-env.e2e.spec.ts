/**
 * The environment each overlay of k8s/ gives each app must boot it. For every overlay (rendered by
 * `kubectl kustomize`) and every app Deployment, the env its container gets (the image's ENV from
 * docker/Dockerfile, then envFrom's ConfigMaps and Secrets in order, then the container's own env
 * entries, which win) starts the built app as a real process, which must turn ready and answer its
 * probes; and every variable the overlay gives it must be one the app's code reads (recorded while
 * it boots by support/env-reads.cjs, so the list comes from the code). Only what cannot exist on
 * this host is overridden:
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { http } from './support/http';
import { OVERLAYS, containerEnv, deploymentOf, render, type Env, type K8sObject } from './support/k8s';
import { ROOT, startApp, waitForLine, type AppName, type RunningApp } from './support/processes';

const TEST_SECRET = 'k8s-env-test-secret';
const TEST_KEY = `k8s-env-test:${createHash('sha256').update(TEST_SECRET).digest('hex')}`;
/** The overrides, all of them: addresses, ports, paths and secrets of the cluster that this host replaces. */
const OVERRIDES = {
  /** Any free port (the manifest's ports may be taken here); the app logs the one it bound. */
  PORT: '0',
  /** The image's /app/models is the repo's models/ here. */
  MODEL_DIR: join(ROOT, 'models'),
  /** redis://<service>:6379/<db> (state and cache) -> the local Redis, same database. */
  redisUrls: ['REDIS_URL', 'CACHE_REDIS_URL'],
  redis: (url: string) => Object.assign(new URL(url), { hostname: '127.0.0.1', port: '6379' }).toString(),
  /**
   * Sentinel or Cluster addresses (prod's external Redis) -> 127.0.0.1:1, where nothing listens:
   * this host has no Sentinel, so the apps must boot without their state Redis (degraded).
   */
  redisNodes: ['REDIS_SENTINELS', 'REDIS_CLUSTER_NODES'],
  /**
   * The gateway's upstreams (the Services' DNS names) -> the model apps this test started.
   */
  upstreams: { INTENT_CLASSIFIER_URL: 'intent-classifier', ANOMALY_DETECTOR_URL: 'anomaly-detector' },
  /** Every Secret value (rendered, or created in the cluster) -> a test key whose secret this test knows. */
  secretValue: (name: string) => (name === 'ML_API_KEYS' ? TEST_KEY : TEST_SECRET),
} as const;
/** Variables Node itself reads, not the app's code. */
const RUNTIME_VARIABLES = ['NODE_OPTIONS'];

const local = (app: RunningApp | undefined) => {
  if (!app) throw new Error('a model app did not start');
  return `http://127.0.0.1:${app.port}`;
};

function withOverrides(objects: K8sObject[], name: string, started: Map<string, RunningApp>): { env: Env; given: string[] } {
  const { env, given, external } = containerEnv(objects, name);
  const out: Env = { ...env, PORT: OVERRIDES.PORT, MODEL_DIR: OVERRIDES.MODEL_DIR };
  for (const k of OVERRIDES.redisUrls) if (out[k]) out[k] = OVERRIDES.redis(out[k]);
  for (const k of OVERRIDES.redisNodes) if (out[k]) out[k] = out[k].split(',').map(() => '127.0.0.1:1').join(',');
  for (const [k, app] of Object.entries(OVERRIDES.upstreams)) {
    if (out[k] !== undefined) out[k] = started.has(app) ? local(started.get(app)) : 'http://127.0.0.1:1';
  }
  for (const k of Object.keys(given)) if (/KEY|SECRET|PASSWORD|TOKEN/.test(k)) out[k] = OVERRIDES.secretValue(k);
  for (const e of external) out[e.name] = OVERRIDES.secretValue(e.name);
  return { env: out, given: [...Object.keys(given), ...external.map((e) => e.name)] };
}

async function waitReady(app: RunningApp) {
  let status = 0;
  for (let i = 0; i < 300 && status !== 200; i++) {
    status = (await http(`${local(app)}/health/ready`)).status;
    if (status !== 200) await new Promise((r) => setTimeout(r, 100));
  }
  return status;
}

describe.each(OVERLAYS)('k8s/overlays/%s: the env each Deployment gives its app boots it', (overlay) => {
  const objects = render(overlay);
  const started = new Map<string, RunningApp>();
  const reads = mkdtempSync(join(tmpdir(), `k8s-env-${overlay}-`));
  const recorder = join(__dirname, 'support', 'env-reads.cjs');
  afterAll(async () => {
    await Promise.all([...started.values()].map((app) => app.stop()));
  });

  // Model apps first: the gateway's upstream URLs point at them.
  it.each(['intent-classifier', 'anomaly-detector', 'gateway'] as AppName[])('%s starts, turns ready, answers its probes and reads every variable it is given', async (name) => {
    const { env, given } = withOverrides(objects, name, started);
    expect(env['NODE_ENV']).toBe('production');
    const readsFile = join(reads, name);
    const app = await startApp(name, {
      ...env,
      ENV_READS_FILE: readsFile,
      NODE_OPTIONS: [env['NODE_OPTIONS'], `--require ${recorder}`].filter(Boolean).join(' '),
    });
    started.set(name, app);
    expect(await waitReady(app)).toBe(200);
    const [container] = deploymentOf(objects, name).spec.template.spec.containers;
    for (const probe of [container.startupProbe, container.livenessProbe, container.readinessProbe]) {
      expect({ path: probe?.httpGet?.path, status: (await http(`${local(app)}${probe?.httpGet?.path}`)).status }).toEqual({ path: probe?.httpGet?.path, status: 200 });
    }
    const read = new Set(existsSync(readsFile) ? readFileSync(readsFile, 'utf8').split('\n').filter(Boolean) : []);
    expect(read.size).toBeGreaterThan(10);
    expect(given.filter((k) => !read.has(k) && !RUNTIME_VARIABLES.includes(k)).sort()).toEqual([]);
  });

  it('serves a prediction through the gateway with the Secret key', async () => {
    const gateway = started.get('gateway');
    const ready = await http(`${local(gateway)}/health/ready`);
    // The cache Redis (CACHE_REDIS_URL) is in the cluster in every overlay: here, the local one.
    expect(ready.json.details.redis).toMatchObject({ mode: 'redis' });
    const res = await http(`${local(gateway)}/predict/intent`, {
      body: { query: `my card has not arrived (k8s env ${overlay} ${Date.now()})` },
      headers: { 'x-api-key': TEST_SECRET, 'x-forwarded-for': '203.0.113.9', 'x-request-id': `k8s-env-${overlay}` },
    });
    expect(res.status).toBe(200);
    expect(res.json.model.name).toBe('intent-classifier');
    // TRUST_PROXY names the ingress's addresses: X-Forwarded-For from anyone else is not believed.
    const line = await waitForLine(gateway as RunningApp, (l) => l.includes(`"request_id":"k8s-env-${overlay}"`));
    expect(JSON.parse(line as string).req.remoteAddress).toBe('127.0.0.1');
  });
});
