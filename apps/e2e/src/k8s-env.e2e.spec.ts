/**
 * The environment k8s/ gives each app must boot it. For every Deployment in k8s/*.yaml, the env
 * its container gets (the image's ENV from docker/Dockerfile, then envFrom's ConfigMaps and
 * Secrets in order, then the container's own env entries, which win) starts the built app as a
 * real process, which must turn ready. Only what cannot exist on this host is overridden:
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import YAML from 'yaml';
import { http } from './support/http';
import { ROOT, startApp, waitForLine, type AppName, type RunningApp } from './support/processes';

const TEST_SECRET = 'k8s-env-test-secret';
const TEST_KEY = `k8s-env-test:${createHash('sha256').update(TEST_SECRET).digest('hex')}`;
/** The overrides, all of them: addresses, ports and paths of the cluster that this host replaces. */
const OVERRIDES = {
  /** Any free port (the manifest's ports may be taken here); the app logs the one it bound. */
  PORT: '0',
  /** The image's /app/models is the repo's models/ here. */
  MODEL_DIR: join(ROOT, 'models'),
  /** redis://redis:6379/<db> -> the local Redis, same database. */
  redis: (url: string) => Object.assign(new URL(url), { hostname: '127.0.0.1', port: '6379' }).toString(),
  /**
   * The gateway's upstreams (the Services' DNS names) -> the model apps this test started. The
   * shared ConfigMap hands them to the model apps too, which do not use them: there, before the
   * app they name is up, they point at 127.0.0.1:1, where nothing listens.
   */
  upstreams: { INTENT_CLASSIFIER_URL: 'intent-classifier', ANOMALY_DETECTOR_URL: 'anomaly-detector' },
  /** Every Secret value -> a test key whose secret this test knows. */
  secretValue: () => TEST_KEY,
} as const;

type Env = Record<string, string>;
interface Manifest {
  kind: string;
  metadata: { name: string };
  data?: Env;
  stringData?: Env;
  spec?: { template: { spec: { containers: Container[] } } };
}
interface Container {
  name: string;
  ports?: { containerPort: number }[];
  env?: { name: string; value?: string; valueFrom?: unknown }[];
  envFrom?: { configMapRef?: { name: string }; secretRef?: { name: string } }[];
}

const K8S = join(ROOT, 'k8s');
const manifests: Manifest[] = readdirSync(K8S)
  .filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml')
  .flatMap((f) => YAML.parseAllDocuments(readFileSync(join(K8S, f), 'utf8')).map((d) => d.toJSON() as Manifest))
  .filter(Boolean);
const byKind = (kind: string) => manifests.filter((m) => m.kind === kind);

/** The runtime stage's ENV of docker/Dockerfile: what the container starts with before k8s adds any. */
function imageEnv(): Env {
  const dockerfile = readFileSync(join(ROOT, 'docker', 'Dockerfile'), 'utf8');
  const runtime = dockerfile.slice(dockerfile.search(/^FROM .* AS runtime$/m));
  const env: Env = {};
  for (const [, line] of runtime.matchAll(/^ENV (.+)$/gm)) {
    for (const pair of line.trim().split(/\s+/)) {
      const [k, ...v] = pair.split('=');
      env[k] = v.join('=');
    }
  }
  return env;
}

/** The env Kubernetes gives a Deployment's container (before this host's overrides). */
function deploymentEnv(name: string): { env: Env; containerPort?: number } {
  const deployment = byKind('Deployment').find((d) => d.metadata.name === name);
  if (!deployment?.spec) throw new Error(`no Deployment ${name} in k8s/`);
  const [container] = deployment.spec.template.spec.containers;
  const env: Env = imageEnv();
  for (const from of container.envFrom ?? []) {
    if (from.configMapRef) {
      const cm = byKind('ConfigMap').find((c) => c.metadata.name === from.configMapRef?.name);
      if (!cm) throw new Error(`${name}: ConfigMap ${from.configMapRef.name} is not in k8s/`);
      Object.assign(env, cm.data);
    } else if (from.secretRef) {
      const secret = byKind('Secret').find((s) => s.metadata.name === from.secretRef?.name);
      if (!secret) throw new Error(`${name}: Secret ${from.secretRef.name} is not in k8s/`);
      for (const key of Object.keys({ ...secret.data, ...secret.stringData })) env[key] = OVERRIDES.secretValue();
    }
  }
  for (const e of container.env ?? []) {
    if (e.value === undefined) throw new Error(`${name}: env ${e.name} uses valueFrom, which this test does not resolve`);
    env[e.name] = e.value;
  }
  return { env, containerPort: container.ports?.[0]?.containerPort };
}

const local = (app: RunningApp | undefined) => {
  if (!app) throw new Error('a model app did not start');
  return `http://127.0.0.1:${app.port}`;
};

function withOverrides(env: Env, started: Map<string, RunningApp>): Env {
  const out: Env = { ...env, PORT: OVERRIDES.PORT, MODEL_DIR: OVERRIDES.MODEL_DIR };
  if (out['REDIS_URL']) out['REDIS_URL'] = OVERRIDES.redis(out['REDIS_URL']);
  for (const [k, app] of Object.entries(OVERRIDES.upstreams)) {
    if (out[k] !== undefined) out[k] = started.has(app) ? local(started.get(app)) : 'http://127.0.0.1:1';
  }
  return out;
}

async function waitReady(app: RunningApp) {
  let status = 0;
  for (let i = 0; i < 300 && status !== 200; i++) {
    status = (await http(`${local(app)}/health/ready`)).status;
    if (status !== 200) await new Promise((r) => setTimeout(r, 100));
  }
  return status;
}

describe('k8s/: the env each Deployment gives its app boots it', () => {
  const started = new Map<string, RunningApp>();
  afterAll(async () => {
    await Promise.all([...started.values()].map((app) => app.stop()));
  });

  it('has one Deployment per app, each declaring the PORT its container exposes', () => {
    expect(byKind('Deployment').map((d) => d.metadata.name).sort()).toEqual(expect.arrayContaining(['anomaly-detector', 'gateway', 'intent-classifier']));
    for (const name of ['intent-classifier', 'anomaly-detector', 'gateway']) {
      const { env, containerPort } = deploymentEnv(name);
      expect({ name, PORT: env['PORT'] }).toEqual({ name, PORT: String(containerPort) });
    }
  });

  // Model apps first: the gateway's upstream URLs point at them.
  it.each(['intent-classifier', 'anomaly-detector', 'gateway'] as AppName[])('%s starts and turns ready', async (name) => {
    const env = withOverrides(deploymentEnv(name).env, started);
    expect(env['NODE_ENV']).toBe('production');
    const app = await startApp(name, env);
    started.set(name, app);
    expect(await waitReady(app)).toBe(200);
  });

  it('serves a prediction through the gateway with the Secret key, on Redis', async () => {
    const gateway = started.get('gateway');
    const ready = await http(`${local(gateway)}/health/ready`);
    expect(ready.json.details.redis).toMatchObject({ mode: 'redis' });
    const res = await http(`${local(gateway)}/predict/intent`, {
      body: { query: `my card has not arrived (k8s env ${Date.now()})` },
      headers: { 'x-api-key': TEST_SECRET, 'x-forwarded-for': '203.0.113.9', 'x-request-id': 'k8s-env-1' },
    });
    expect(res.status).toBe(200);
    expect(res.json.model.name).toBe('intent-classifier');
    // TRUST_PROXY names the ingress's addresses: X-Forwarded-For from anyone else is not believed.
    const line = await waitForLine(gateway as RunningApp, (l) => l.includes('"request_id":"k8s-env-1"'));
    expect(JSON.parse(line as string).req.remoteAddress).toBe('127.0.0.1');
  });
});
