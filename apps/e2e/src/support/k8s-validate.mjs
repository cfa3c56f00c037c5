/**
 * Validates Kubernetes objects offline against the API's OpenAPI schemas (kubernetes-models;
 * prometheus-operator's CRDs from @kubernetes-models/prometheus-operator). Reads a JSON array of
 * objects on stdin, writes a JSON array of {kind, name, error} for every object that fails or
 * whose apiVersion/kind no model knows. ESM only (both packages are), hence a child process.
 */
import * as core from 'kubernetes-models';
import * as monitoring from '@kubernetes-models/prometheus-operator';

const MODELS = [core, monitoring];

function modelFor(apiVersion, kind) {
  const [group, version] = apiVersion.includes('/') ? apiVersion.split('/') : ['', apiVersion];
  for (const root of MODELS) {
    const ns = group === '' ? root[version] : root[group]?.[version] ?? root[`${group}/${version}`];
    if (ns?.[kind]) return ns[kind];
  }
  return undefined;
}

async function findModel(apiVersion, kind) {
  const direct = modelFor(apiVersion, kind);
  if (direct) return direct;
  const [group, version] = apiVersion.includes('/') ? apiVersion.split('/') : ['', apiVersion];
  const paths =
    group === '' ? [`kubernetes-models/${version}`] : [`kubernetes-models/${group}/${version}`, `@kubernetes-models/prometheus-operator/${group}/${version}`];
  for (const path of paths) {
    try {
      const mod = await import(path);
      if (mod[kind]) return mod[kind];
    } catch {
      // not this package
    }
  }
  return undefined;
}

let input = '';
for await (const chunk of process.stdin) input += chunk;
const problems = [];
for (const object of JSON.parse(input)) {
  const { apiVersion = '', kind = '', metadata } = object;
  const name = metadata?.name ?? '(unnamed)';
  const Model = await findModel(apiVersion, kind);
  if (!Model) {
    problems.push({ kind, name, error: `no schema for ${apiVersion} ${kind}` });
    continue;
  }
  try {
    new Model(object).validate();
  } catch (e) {
    problems.push({ kind, name, error: e instanceof Error ? e.message : String(e) });
  }
}
process.stdout.write(JSON.stringify(problems));
