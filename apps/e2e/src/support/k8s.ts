/**
 * k8s/ as Kubernetes would see it: each overlay rendered with `kubectl kustomize`, and the env a
 * Deployment's container gets (image ENV, envFrom ConfigMaps and Secrets in order, then its own
 * `env`, which wins). Shared by the k8s-*.e2e.spec.ts files.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import YAML from 'yaml';
import { ROOT } from './processes';

export const K8S = join(ROOT, 'k8s');
/** Every overlay under k8s/overlays (dev, prod, ...): a new one is checked without touching the tests. */
export const OVERLAYS = readdirSync(join(K8S, 'overlays'), { withFileTypes: true })
  .filter((d) => d.isDirectory())
  .map((d) => d.name)
  .sort();

export type Env = Record<string, string>;
export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; labels?: Record<string, string> };
  data?: Env;
  stringData?: Env;
  spec?: Record<string, unknown>;
}
export interface Probe {
  httpGet?: { path: string; port: number | string };
  exec?: unknown;
  tcpSocket?: unknown;
}
export interface Container {
  name: string;
  image: string;
  args?: string[];
  ports?: { containerPort: number; name?: string }[];
  env?: { name: string; value?: string; valueFrom?: { secretKeyRef?: SecretKeyRef; configMapKeyRef?: unknown } }[];
  envFrom?: { configMapRef?: { name: string }; secretRef?: { name: string } }[];
  startupProbe?: Probe;
  livenessProbe?: Probe;
  readinessProbe?: Probe;
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
}
export interface SecretKeyRef {
  name: string;
  key: string;
  optional?: boolean;
}
export interface Deployment extends K8sObject {
  spec: { replicas?: number; template: { spec: { terminationGracePeriodSeconds?: number; containers: Container[] } } };
}

/** The kubectl to render with: $KUBECTL, else `kubectl` on PATH. */
const KUBECTL = process.env['KUBECTL'] ?? 'kubectl';

/** Renders an overlay exactly as `kubectl apply -k` would send it. */
export function render(overlay: string): K8sObject[] {
  const probe = spawnSync(KUBECTL, ['version', '--client'], { encoding: 'utf8' });
  if (probe.error || probe.status !== 0) {
    throw new Error(
      `kubectl is needed to render k8s/overlays/${overlay} (\`kubectl kustomize\`, kustomize >= 5) and was not found ` +
        `(tried "${KUBECTL}": ${probe.error?.message ?? probe.stderr}). It is not in Debian 12's repositories: ` +
        'install it from the Kubernetes project\'s packages or binary release, or point $KUBECTL at one.',
    );
  }
  const text = execFileSync(KUBECTL, ['kustomize', join(K8S, 'overlays', overlay)], { encoding: 'utf8' });
  return YAML.parseAllDocuments(text)
    .map((d) => d.toJSON() as K8sObject | null)
    .filter((o): o is K8sObject => o !== null);
}

export const ofKind = <T extends K8sObject = K8sObject>(objects: K8sObject[], kind: string) => objects.filter((o) => o.kind === kind) as T[];

export function deploymentOf(objects: K8sObject[], name: string): Deployment {
  const d = ofKind<Deployment>(objects, 'Deployment').find((o) => o.metadata.name === name);
  if (!d) throw new Error(`no Deployment ${name}`);
  return d;
}

/** The runtime stage's ENV of docker/Dockerfile: what the container starts with before k8s adds any. */
export function imageEnv(): Env {
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

export interface ContainerEnv {
  /** Every variable the manifests give the container (not the image's), with its value where the render has it. */
  given: Env;
  /** Variables whose value comes from a Secret the render does not contain (created in the cluster). */
  external: { name: string; ref: SecretKeyRef }[];
  /** The full env the process starts with: image ENV, then `given` (external secrets left out). */
  env: Env;
}

/** The env Kubernetes gives the first container of Deployment `name` in a rendered overlay. */
export function containerEnv(objects: K8sObject[], name: string): ContainerEnv {
  const [container] = deploymentOf(objects, name).spec.template.spec.containers;
  const given: Env = {};
  const external: ContainerEnv['external'] = [];
  const find = (kind: string, ref: string) => objects.find((o) => o.kind === kind && o.metadata.name === ref);
  for (const from of container.envFrom ?? []) {
    const kind = from.configMapRef ? 'ConfigMap' : 'Secret';
    const ref = (from.configMapRef ?? from.secretRef)?.name ?? '';
    const source = find(kind, ref);
    if (!source) throw new Error(`${name}: envFrom ${kind} ${ref} is not in the render (name the keys with secretKeyRef for Secrets made in the cluster)`);
    for (const [k, v] of Object.entries(source.data ?? {})) given[k] = kind === 'Secret' ? Buffer.from(v, 'base64').toString('utf8') : v;
    Object.assign(given, source.stringData);
  }
  for (const e of container.env ?? []) {
    if (e.value !== undefined) given[e.name] = e.value;
    else if (e.valueFrom?.secretKeyRef) {
      const ref = e.valueFrom.secretKeyRef;
      const secret = find('Secret', ref.name);
      const value = secret?.stringData?.[ref.key] ?? (secret?.data?.[ref.key] !== undefined ? Buffer.from(secret.data[ref.key], 'base64').toString('utf8') : undefined);
      if (value !== undefined) given[e.name] = value;
      else external.push({ name: e.name, ref });
    } else throw new Error(`${name}: env ${e.name} has a valueFrom this test does not resolve`);
  }
  return { given, external, env: { ...imageEnv(), ...given } };
}

/** `512Mi`, `1Gi`, `300M` -> bytes. */
export function quantityBytes(q: string): number {
  const m = /^(\d+(?:\.\d+)?)(Ki|Mi|Gi|Ti|k|M|G|T)?$/.exec(q);
  if (!m) throw new Error(`unparsed quantity ${q}`);
  const unit = { Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, k: 1e3, M: 1e6, G: 1e9, T: 1e12 }[m[2] ?? ''] ?? 1;
  return Number(m[1]) * unit;
}

/** Validates objects against the Kubernetes schemas offline (support/k8s-validate.mjs); the failures. */
export function schemaProblems(objects: K8sObject[]): { kind: string; name: string; error: string }[] {
  const out = execFileSync(process.execPath, [join(__dirname, 'k8s-validate.mjs')], { input: JSON.stringify(objects), encoding: 'utf8', cwd: ROOT });
  return JSON.parse(out);
}

/** A Redis container's `--maxmemory-policy` and `--maxmemory` from its args. */
export function redisArgs(container: Container): { policy?: string; maxmemory?: string } {
  const args = container.args ?? [];
  const at = (flag: string) => (args.includes(flag) ? args[args.indexOf(flag) + 1] : undefined);
  return { policy: at('--maxmemory-policy'), maxmemory: at('--maxmemory') };
}
