/**
 * Every overlay under k8s/overlays renders (`kubectl kustomize`), every object it renders is valid
 * against the Kubernetes schemas (offline, kubernetes-models), and the manifests agree with the code
 * and with what was measured: ports and probes, memory against k8s/measured.json, the grace period
 * against the shutdown timings, secrets never literal in prod, and Redis's eviction policies. That
 * each app boots with its overlay's env, answers its probes and reads every variable it is given is
 * k8s-env.e2e.spec.ts's part.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  K8S,
  OVERLAYS,
  containerEnv,
  deploymentOf,
  ofKind,
  quantityBytes,
  redisArgs,
  render,
  schemaProblems,
  type Container,
  type Deployment,
  type K8sObject,
} from './support/k8s';

const APPS = ['gateway', 'intent-classifier', 'anomaly-detector'] as const;
/** Probe paths each app serves (libs/health): liveness checks nothing external, readiness means ready to serve. */
const PROBE_PATHS = { startupProbe: '/health/live', livenessProbe: '/health/live', readinessProbe: '/health/ready' } as const;
/** The code's defaults (libs/config service.config.ts) where an overlay leaves them unset. */
const SHUTDOWN_DEFAULTS = { SHUTDOWN_DELAY_MS: 0, SHUTDOWN_DRAIN_MS: 10_000 };

const measured = JSON.parse(readFileSync(join(K8S, 'measured.json'), 'utf8')) as { headroom: number; apps: Record<string, { rssMiB: number; cpuCores: number }> };
/** Threads an onnxruntime session run uses where INFERENCE_INTRA_OP_THREADS is unset (the apps' defaults). */
const INTRA_OP_DEFAULTS: Record<string, number> = { 'intent-classifier': 2, 'anomaly-detector': 1 };
/** A CPU quantity in cores: "1", "500m". */
const cores = (q: string | number | undefined) => (q === undefined ? 0 : String(q).endsWith('m') ? Number(String(q).slice(0, -1)) / 1000 : Number(q));
const rendered = new Map<string, K8sObject[]>(OVERLAYS.map((o) => [o, render(o)]));
const objectsOf = (overlay: string) => rendered.get(overlay) as K8sObject[];
const appContainer = (overlay: string, app: string): Container => deploymentOf(objectsOf(overlay), app).spec.template.spec.containers[0];

describe('k8s/overlays', () => {
  it('has a dev and a prod overlay', () => {
    expect(OVERLAYS).toEqual(expect.arrayContaining(['dev', 'prod']));
  });
});

describe.each(OVERLAYS)('k8s/overlays/%s', (overlay) => {
  it('renders every object valid against the Kubernetes schemas', () => {
    const objects = objectsOf(overlay);
    expect(objects.length).toBeGreaterThan(10);
    expect(schemaProblems(objects)).toEqual([]);
  });

  it('puts everything in the ml-services namespace', () => {
    const namespaced = objectsOf(overlay).filter((o) => o.kind !== 'Namespace');
    expect(namespaced.filter((o) => (o.metadata as { namespace?: string }).namespace !== 'ml-services').map((o) => `${o.kind}/${o.metadata.name}`)).toEqual([]);
  });

  it.each(APPS)('%s: PORT is the container port its probes and Service use, and the probes hit the health routes', (app) => {
    const objects = objectsOf(overlay);
    const container = appContainer(overlay, app);
    const { env } = containerEnv(objects, app);
    const [port] = container.ports ?? [];
    expect(String(port?.containerPort)).toBe(env['PORT']);
    for (const [kind, path] of Object.entries(PROBE_PATHS)) {
      const probe = container[kind as keyof typeof PROBE_PATHS];
      expect({ kind, path: probe?.httpGet?.path, port: probe?.httpGet?.port }).toEqual({ kind, path, port: port.name });
    }
    const service = ofKind(objects, 'Service').find((s) => s.metadata.name === app);
    expect(service?.spec).toMatchObject({ ports: [{ port: port.containerPort, targetPort: port.name }] });
  });

  it.each(APPS)('%s: memory requests cover the measured RSS and limits leave the headroom of k8s/measured.json', (app) => {
    const { rssMiB } = measured.apps[app];
    const { requests = {}, limits = {} } = appContainer(overlay, app).resources ?? {};
    const MiB = 2 ** 20;
    expect(quantityBytes(requests['memory'] ?? '0') / MiB).toBeGreaterThanOrEqual(rssMiB);
    expect(quantityBytes(limits['memory'] ?? '0') / MiB).toBeGreaterThanOrEqual(rssMiB * measured.headroom);
    expect(limits['cpu']).toBeDefined();
    expect(requests['cpu']).toBeDefined();
  });

  it.each(APPS)('%s: an inference run uses no more threads than the CPU limit gives it (measured on one core: 256-batches 12,288 queries/s with 1 thread, 10,342 with 2)', (app) => {
    const { env } = containerEnv(objectsOf(overlay), app);
    const threads = env['INFERENCE_INTRA_OP_THREADS'] === undefined ? (INTRA_OP_DEFAULTS[app] ?? 1) : Number(env['INFERENCE_INTRA_OP_THREADS']);
    expect(threads).toBeLessThanOrEqual(Math.max(1, cores(appContainer(overlay, app).resources?.limits?.['cpu'])));
  });

  if (overlay === 'prod') {
    it.each(APPS)('%s: CPU requests equal limits equal the cores k8s/measured.json sized it for', (app) => {
      const { requests = {}, limits = {} } = appContainer(overlay, app).resources ?? {};
      expect({ request: cores(requests['cpu']), limit: cores(limits['cpu']) }).toEqual({ request: measured.apps[app].cpuCores, limit: measured.apps[app].cpuCores });
    });
  }

  it.each(APPS)('%s: terminationGracePeriodSeconds exceeds SHUTDOWN_DELAY_MS + SHUTDOWN_DRAIN_MS', (app) => {
    const { env } = containerEnv(objectsOf(overlay), app);
    const ms = (name: keyof typeof SHUTDOWN_DEFAULTS) => (env[name] === undefined ? SHUTDOWN_DEFAULTS[name] : Number(env[name]));
    const grace = deploymentOf(objectsOf(overlay), app).spec.template.spec.terminationGracePeriodSeconds ?? 30;
    expect(grace * 1000).toBeGreaterThan(ms('SHUTDOWN_DELAY_MS') + ms('SHUTDOWN_DRAIN_MS'));
  });

  it('keeps the prediction cache and the state (histories, counters) in different Redis, the state one never evicting', () => {
    const objects = objectsOf(overlay);
    const gateway = containerEnv(objects, 'gateway').given;
    const anomaly = containerEnv(objects, 'anomaly-detector').given;
    const cacheHost = new URL(gateway['CACHE_REDIS_URL']).hostname;
    const cache = deploymentOf(objects, cacheHost).spec.template.spec.containers[0];
    expect(redisArgs(cache)).toMatchObject({ policy: 'allkeys-lru' });
    // Both apps find the state Redis the same way, and never in the cache's.
    const stateVars = ['REDIS_URL', 'REDIS_HOST', 'REDIS_SENTINELS', 'REDIS_SENTINEL_NAME', 'REDIS_CLUSTER_NODES'];
    const pick = (env: Record<string, string>) => Object.fromEntries(stateVars.filter((k) => env[k] !== undefined).map((k) => [k, env[k]]));
    expect(Object.keys(pick(gateway)).length).toBeGreaterThan(0);
    expect(pick(anomaly)).toEqual(pick(gateway));
    expect(JSON.stringify(pick(gateway))).not.toContain(cacheHost);
    // An in-cluster state Redis (dev) is named by REDIS_URL and must not evict.
    if (gateway['REDIS_URL']) {
      const state = deploymentOf(objects, new URL(gateway['REDIS_URL']).hostname).spec.template.spec.containers[0];
      expect(redisArgs(state)).toMatchObject({ policy: 'noeviction' });
      expect(quantityBytes(state.resources?.limits?.['memory'] ?? '0')).toBeGreaterThan(quantityBytes((redisArgs(state).maxmemory ?? '').replace(/mb$/i, 'Mi')));
    }
    expect(quantityBytes(cache.resources?.limits?.['memory'] ?? '0')).toBeGreaterThan(quantityBytes((redisArgs(cache).maxmemory ?? '').replace(/mb$/i, 'Mi')));
  });
});

describe('k8s/overlays/prod', () => {
  const objects = () => objectsOf('prod');

  it('ships no Secret: every secret comes from a Secret created in the cluster, by reference', () => {
    expect(ofKind(objects(), 'Secret')).toEqual([]);
    for (const app of APPS) {
      const { given, external } = containerEnv(objects(), app);
      expect(Object.keys(given).filter((k) => /KEY|SECRET|PASSWORD|TOKEN/.test(k))).toEqual([]);
      for (const e of external) expect(e.ref.name).toMatch(/^ml-services-/);
    }
    expect(containerEnv(objects(), 'gateway').external.map((e) => e.name)).toContain('ML_API_KEYS');
  });

  it('finds the state Redis through Sentinel (or Cluster), with its password from a Secret', () => {
    for (const app of ['gateway', 'anomaly-detector']) {
      const { given, external } = containerEnv(objects(), app);
      expect(given['REDIS_URL']).toBeUndefined();
      expect(Boolean(given['REDIS_SENTINELS'] && given['REDIS_SENTINEL_NAME']) || Boolean(given['REDIS_CLUSTER_NODES'])).toBe(true);
      expect(external.find((e) => e.name === 'REDIS_PASSWORD')?.ref).toMatchObject({ name: 'ml-services-redis-auth', key: 'REDIS_PASSWORD' });
    }
  });

  it('runs more replicas than dev, with memory requests equal to limits', () => {
    const replicas = (overlay: string, app: string) => (deploymentOf(objectsOf(overlay), app) as Deployment).spec.replicas ?? 1;
    const hpaMin = (overlay: string, app: string) => (ofKind(objectsOf(overlay), 'HorizontalPodAutoscaler').find((h) => h.metadata.name === app)?.spec as { minReplicas: number }).minReplicas;
    for (const app of APPS) {
      expect(replicas('prod', app)).toBeGreaterThan(replicas('dev', app));
      expect(hpaMin('prod', app)).toBeGreaterThanOrEqual(replicas('prod', app));
      const { requests = {}, limits = {} } = appContainer('prod', app).resources ?? {};
      expect(requests['memory']).toBe(limits['memory']);
    }
    for (const pdb of ofKind(objects(), 'PodDisruptionBudget')) expect((pdb.spec as { minAvailable: number }).minAvailable).toBeLessThan(3);
  });
});
