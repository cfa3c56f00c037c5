/**
 * The environment an app gets where it is deployed (k8s/): its Deployment's `env` on top of the
 * ConfigMaps and Secrets its `envFrom` names, read from the YAML so the benchmarks can never drift
 * from what ships. Benchmarks start the apps with this env and change only what they must, through
 * {@link withOverrides}, which records every change so the report can list it.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';

/** The workspace root (this file is tools/bench/src/lib/deployed.ts). */
const ROOT = join(__dirname, '..', '..', '..', '..');
/**
 * What the benchmarks deploy: the prod overlay, rendered by `kubectl kustomize` as `kubectl apply -k`
 * would (ConfigMap names with their hash suffixes, the overlay's patches on the base).
 */
export const K8S_DIR = join(ROOT, 'k8s', 'overlays', 'prod');
interface K8sObject {
  kind?: string;
  metadata?: { name?: string };
  data?: Record<string, unknown>;
  stringData?: Record<string, unknown>;
  spec?: { template?: { spec?: { containers?: K8sContainer[] } } };
}

interface K8sContainer {
  name?: string;
  env?: Array<{ name: string; value?: unknown; valueFrom?: unknown }>;
  envFrom?: Array<{ configMapRef?: { name: string }; secretRef?: { name: string } }>;
}

const rendered = new Map<string, K8sObject[]>();

/** Every object `kubectl kustomize dir` renders (`$KUBECTL` or kubectl on the PATH), once per dir. */
function readObjects(dir: string): K8sObject[] {
  let objects = rendered.get(dir);
  if (!objects) {
    let yaml: string;
    try {
      yaml = execFileSync(process.env['KUBECTL'] ?? 'kubectl', ['kustomize', dir], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
    } catch (err) {
      throw new Error(`cannot render ${dir} with kubectl kustomize (kubectl >= 1.27 on the PATH, or $KUBECTL): ${(err as Error).message}`);
    }
    objects = parseAllDocuments(yaml)
      .map((d) => d.toJSON() as K8sObject | null)
      .filter((o): o is K8sObject => o !== null && typeof o === 'object');
    rendered.set(dir, objects);
  }
  return objects;
}

/**
 * The env of container `app` of Deployment `app` in `dir` (k8s/), as Kubernetes assembles it:
 * `envFrom` sources in order (ConfigMap `data`, Secret `stringData`/base64 `data`), then `env`
 * entries with a literal `value` (a `valueFrom` cannot be resolved outside a cluster and is skipped).
 */
export function deployedEnv(app: string, dir = K8S_DIR): Record<string, string> {
  if (!existsSync(dir)) throw new Error(`${dir} does not exist`);
  const objects = readObjects(dir);
  const deployment = objects.find((o) => o.kind === 'Deployment' && o.metadata?.name === app);
  if (!deployment) throw new Error(`no Deployment named ${app} under ${dir}`);
  const containers = deployment.spec?.template?.spec?.containers ?? [];
  const container = containers.find((c) => c.name === app) ?? containers[0];
  if (!container) throw new Error(`Deployment ${app} has no container`);
  const env: Record<string, string> = {};
  for (const from of container.envFrom ?? []) {
    const ref = from.configMapRef ?? from.secretRef;
    const kind = from.configMapRef ? 'ConfigMap' : 'Secret';
    const source = objects.find((o) => o.kind === kind && o.metadata?.name === ref?.name);
    if (!source) throw new Error(`Deployment ${app}: ${kind} ${ref?.name} not found under ${dir}`);
    for (const [k, v] of Object.entries(source.data ?? {})) env[k] = kind === 'Secret' ? Buffer.from(String(v), 'base64').toString('utf8') : String(v);
    for (const [k, v] of Object.entries(source.stringData ?? {})) env[k] = String(v);
  }
  for (const e of container.env ?? []) if (e.value !== undefined && e.value !== null) env[e.name] = String(e.value);
  return env;
}

/** One way the benchmark's env differs from the deployed one; `bench` undefined = removed. */
export interface EnvOverride {
  name: string;
  deployed?: string;
  bench?: string;
  why: string;
}

/** Values that must not be printed or saved as they are. */
const SECRET_NAMES = /KEY|SECRET|PASSWORD|TOKEN/i;
const shown = (name: string, value: string | undefined) => (value === undefined ? undefined : SECRET_NAMES.test(name) ? '<redacted>' : value);

/**
 * `deployed` with `changes` applied (a value of `undefined` removes the variable), and the list of
 * what differs, each with its reason; a change to the value already deployed is not listed.
 */
export function withOverrides(
  deployed: Readonly<Record<string, string>>,
  changes: Readonly<Record<string, { value: string | undefined; why: string }>>,
): { env: Record<string, string>; overrides: EnvOverride[] } {
  const env = { ...deployed };
  const overrides: EnvOverride[] = [];
  for (const [name, { value, why }] of Object.entries(changes)) {
    if (value === undefined) delete env[name];
    else env[name] = value;
    if (deployed[name] !== value) overrides.push({ name, deployed: shown(name, deployed[name]), bench: shown(name, value), why });
  }
  return { env, overrides };
}

/** A line per override, for reports: `NAME: deployed -> bench (why)`. */
export function describeOverrides(app: string, overrides: readonly EnvOverride[]): string[] {
  return overrides.map((o) => `  ${app} ${o.name}: ${o.deployed ?? '(unset)'} -> ${o.bench ?? '(unset)'}  (${o.why})`);
}
