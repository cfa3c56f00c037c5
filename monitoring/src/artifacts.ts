import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildDashboard } from './dashboard';

/** The repository root (monitoring/src/ is two levels down). */
export const ROOT = join(__dirname, '..', '..');

export const RULES = 'monitoring/prometheus/rules.yml';
export const DASHBOARD = 'monitoring/grafana/dashboards/ml-services.json';
/** kustomize refuses files outside its root, so k8s/monitoring keeps a copy of the dashboard. */
export const K8S_DASHBOARD = 'k8s/monitoring/dashboards/ml-services.json';
export const K8S_RULE = 'k8s/monitoring/prometheus-rule.yaml';

export const read = (path: string) => readFileSync(join(ROOT, path), 'utf8');

export function dashboardText(): string {
  return `${JSON.stringify(buildDashboard(), null, 2)}\n`;
}

/**
 * rules.yml's groups wrapped in a PrometheusRule, text for text (comments kept): the operator's
 * `spec` is a Prometheus rule file.
 */
export function prometheusRuleText(rulesYml: string): string {
  const start = rulesYml.search(/^groups:/m);
  if (start < 0) throw new Error(`${RULES} has no top-level "groups:"`);
  const body = rulesYml
    .slice(start)
    .split('\n')
    .map((line) => (line === '' ? '' : `  ${line}`))
    .join('\n');
  return [
    `# Generated from ${RULES} by \`npx nx run monitoring:generate\`: edit that file, not this one.`,
    'apiVersion: monitoring.coreos.com/v1',
    'kind: PrometheusRule',
    'metadata:',
    '  name: ml-services',
    '  labels:',
    '    app.kubernetes.io/part-of: ml-services',
    "    # What your Prometheus's ruleSelector matches (kube-prometheus-stack: release=<its Helm release>).",
    '    release: kube-prometheus-stack',
    'spec:',
    body,
  ].join('\n');
}

/** Every file `generate` writes, by path from the repository root. */
export function generatedFiles(): Record<string, string> {
  const dashboard = dashboardText();
  return {
    [DASHBOARD]: dashboard,
    [K8S_DASHBOARD]: dashboard,
    [K8S_RULE]: prometheusRuleText(read(RULES)),
  };
}
