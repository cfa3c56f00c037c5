import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, posix, relative } from 'node:path';
import * as YAML from 'yaml';
import { DASHBOARD, generatedFiles, K8S_RULE, prometheusRuleText, read, ROOT, RULES } from './artifacts';
import { dashboardExpressions, type DashboardJson } from './dashboard';

// Debian's `prometheus` package ships it; .ci/run installs it where it is missing.
function promtool(...args: string[]) {
  const r = spawnSync('promtool', args, { cwd: join(ROOT, 'monitoring', 'prometheus'), encoding: 'utf8', timeout: 60_000 });
  if (r.error) throw new Error(`promtool could not run (${r.error.message}): apt-get install -y prometheus`);
  return { code: r.status, output: `${r.stdout}${r.stderr}` };
}

interface Rule {
  alert?: string;
  record?: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
interface RuleFile {
  groups: { name: string; interval?: string; rules: Rule[] }[];
}

const rules = () => YAML.parse(read(RULES)) as RuleFile;
const alerts = () => rules().groups.flatMap((g) => g.rules.filter((r) => r.alert));
const dashboard = () => JSON.parse(read(DASHBOARD)) as DashboardJson;

/** Grafana's own syntax in a panel query, replaced by what Grafana sends to Prometheus. */
function asPromQL(expr: string) {
  const labelValues = /^label_values\((.+),\s*\w+\)$/.exec(expr);
  return (labelValues ? labelValues[1] : expr).replaceAll('$__rate_interval', '1m').replaceAll('$service', '.*');
}

describe('Prometheus rules', () => {
  it('pass promtool check rules', () => {
    const r = promtool('check', 'rules', 'rules.yml');
    expect(r.output).toContain('SUCCESS');
    expect(r.code).toBe(0);
  });

  it.each(['rules.test.yml', 'rules.drift.test.yml'])('pass their promtool unit tests (%s)', (file) => {
    const r = promtool('test', 'rules', file);
    if (r.code !== 0) throw new Error(r.output);
    expect(r.output).toContain('SUCCESS');
  });

  it('have a unit test that expects each alert to fire', () => {
    const tested = new Set<string>();
    for (const file of ['rules.test.yml', 'rules.drift.test.yml']) {
      const suite = YAML.parse(read(`monitoring/prometheus/${file}`)) as { tests: { alert_rule_test?: { alertname: string; exp_alerts: unknown[] }[] }[] };
      for (const t of suite.tests) for (const a of t.alert_rule_test ?? []) if (a.exp_alerts.length > 0) tested.add(a.alertname);
    }
    expect([...tested].sort()).toEqual(alerts().map((a) => a.alert).sort());
  });

  it('give every alert a severity, a summary, a description and a runbook section that exists in the README', () => {
    const readme = read('README.md');
    const anchors = new Set([...readme.matchAll(/^#+ (.+)$/gm)].map((m) => m[1].trim().toLowerCase().replace(/[^\w\- ]/g, '').replace(/ /g, '-')));
    for (const a of alerts()) {
      expect({ alert: a.alert, severity: a.labels?.['severity'] }).toEqual({ alert: a.alert, severity: expect.stringMatching(/^(critical|warning)$/) });
      expect(a.annotations?.['summary']).toBeTruthy();
      expect(a.annotations?.['description']).toBeTruthy();
      expect(a.annotations?.['runbook']).toBe(`README.md#${a.alert?.toLowerCase()}`);
      expect({ alert: a.alert, inReadme: anchors.has(String(a.alert).toLowerCase()) }).toEqual({ alert: a.alert, inReadme: true });
    }
  });

  it('are listed with their thresholds in docs/ARCHITECTURE.md', () => {
    const doc = read('docs/ARCHITECTURE.md');
    for (const a of alerts()) expect({ alert: a.alert, listed: doc.includes(`\`${a.alert}\``) }).toEqual({ alert: a.alert, listed: true });
  });

  it("are the PrometheusRule's spec, kept in step by generate", () => {
    const k8s = YAML.parse(read(K8S_RULE)) as { kind: string; spec: RuleFile };
    expect(k8s.kind).toBe('PrometheusRule');
    expect(k8s.spec).toEqual(rules());
    expect(read(K8S_RULE)).toBe(prometheusRuleText(read(RULES)));
  });
});

describe('generated files', () => {
  it.each(Object.keys(generatedFiles()))('%s is up to date (npx nx run monitoring:generate)', (path) => {
    expect(read(path)).toBe(generatedFiles()[path]);
  });
});

describe('the Grafana dashboard', () => {
  it('has queries Prometheus parses (promtool, each as a recording rule)', () => {
    const exprs = dashboardExpressions(dashboard());
    expect(exprs.length).toBeGreaterThan(20);
    const dir = mkdtempSync(join(tmpdir(), 'dashboard-promql-'));
    try {
      const file = join(dir, 'dashboard.rules.yml');
      const records = exprs.map((e, i) => ({ record: `dashboard:query_${i}`, expr: asPromQL(e.expr) }));
      writeFileSync(file, YAML.stringify({ groups: [{ name: 'dashboard', rules: records }] }));
      const r = promtool('check', 'rules', file);
      if (r.code !== 0) throw new Error(r.output);
      expect(r.output).toContain(`SUCCESS: ${exprs.length} rules found`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('lays panels out on the 24-column grid without overlaps, with unique ids', () => {
    const panels = dashboard().panels;
    expect(new Set(panels.map((p) => p.id)).size).toBe(panels.length);
    const cells = new Set<string>();
    for (const p of panels) {
      const { x, y, w, h } = p.gridPos;
      expect(x + w).toBeLessThanOrEqual(24);
      for (let i = x; i < x + w; i++)
        for (let j = y; j < y + h; j++) {
          expect(cells.has(`${i},${j}`) ? `${p.title} overlaps at ${i},${j}` : 'ok').toBe('ok');
          cells.add(`${i},${j}`);
        }
    }
  });

  it('reads every query through the datasource variable, so it works with any Prometheus', () => {
    const d = dashboard();
    expect(d.templating.list.find((v) => v.name === 'datasource')?.type).toBe('datasource');
    for (const p of d.panels.filter((p) => p.type !== 'row')) {
      expect(p.datasource?.uid).toBe('${datasource}');
      expect(p.targets?.length).toBeGreaterThan(0);
      for (const t of p.targets ?? []) expect(t.datasource?.uid).toBe('${datasource}');
    }
  });

  it('has the panels the operators asked for', () => {
    const text = JSON.stringify(dashboard().panels.map((p) => [p.title, p.targets?.map((t) => t.expr)]));
    for (const metric of [
      'http_request_duration_seconds_count', // request rate, error ratio
      'http_request_duration_seconds_bucket', // latency percentiles by route
      'ml_prediction_latency_seconds_bucket', // latency percentiles by model
      'ml_model_cache_hits_total',
      'ml_circuit_breaker_state',
      'ml_rate_limit_rejections_total',
      'ml_inference_batch_size_bucket',
      'ml_inference_queue_wait_seconds_bucket',
      'ml_redis_degraded',
      'ml_anomaly_flagged_total',
    ])
      expect({ metric, charted: text.includes(metric) }).toEqual({ metric, charted: true });
    const rulesText = read(RULES);
    for (const a of alerts()) {
      const named = dashboard().panels.some((p) => JSON.stringify(p).includes(String(a.alert)));
      // MLTargetDown is Prometheus's own `up`; every other alert names the panel to look at.
      if (a.alert !== 'MLTargetDown') expect({ alert: a.alert, named }).toEqual({ alert: a.alert, named: true });
    }
    expect(rulesText).toContain('record: namespace_model:ml_anomaly_alert_rate:ratio_rate7d');
  });
});

describe('docker compose: Prometheus and Grafana', () => {
  interface Service {
    image?: string;
    command?: string[];
    volumes?: string[];
    ports?: string[];
    environment?: Record<string, string>;
    depends_on?: string[];
  }
  const compose = () => YAML.parse(read('docker/compose.yaml'), { merge: true }) as { services: Record<string, Service>; volumes?: Record<string, unknown> };
  /** Bind mounts as [repo path, container path]; named volumes must be declared. */
  function mounts(service: Service, declared: Record<string, unknown>) {
    return (service.volumes ?? []).flatMap((v) => {
      const [source, target] = v.split(':');
      if (!source.startsWith('.')) {
        expect(Object.keys(declared)).toContain(source);
        return [];
      }
      return [[posix.join('docker', source), target] as const];
    });
  }
  const hostPath = (m: readonly (readonly [string, string])[], containerPath: string) => {
    const mount = m.find(([, target]) => containerPath === target || containerPath.startsWith(`${target}/`));
    if (!mount) throw new Error(`${containerPath} is not mounted`);
    return posix.join(mount[0], posix.relative(mount[1], containerPath));
  };

  it('mounts the config, rules and provisioning files that exist in the repo, read-only, and pins images', () => {
    const c = compose();
    for (const name of ['prometheus', 'grafana']) {
      const s = c.services[name];
      expect(s.image).toMatch(/:v?\d+\.\d+\.\d+$/);
      for (const v of s.volumes ?? []) if (v.startsWith('.')) expect(v.endsWith(':ro') ? v : `${v} (not read-only)`).toBe(v);
      for (const [source] of mounts(s, c.volumes ?? {})) expect(existsSync(join(ROOT, source)) ? source : `${source} missing`).toBe(source);
    }
    const prom = c.services['prometheus'];
    const config = prom.command?.find((a) => a.startsWith('--config.file='))?.split('=')[1] ?? '/etc/prometheus/prometheus.yml';
    expect(hostPath(mounts(prom, c.volumes ?? {}), config)).toBe('monitoring/prometheus/prometheus.yml');
    // At least the 7 days the drift rule's baseline reads.
    const retention = prom.command?.find((a) => a.startsWith('--storage.tsdb.retention.time='))?.split('=')[1];
    expect(Number(/^(\d+)d$/.exec(String(retention))?.[1])).toBeGreaterThanOrEqual(8);
  });

  it('gives Prometheus a valid config (promtool check config) that scrapes every app at its compose port', () => {
    const r = promtool('check', 'config', 'prometheus.yml');
    if (r.code !== 0) throw new Error(r.output);
    const c = compose();
    const config = YAML.parse(read('monitoring/prometheus/prometheus.yml')) as { scrape_configs: { job_name: string; static_configs: { targets: string[] }[] }[] };
    const job = config.scrape_configs.find((j) => j.job_name === 'ml-services');
    const targets = job?.static_configs.flatMap((s) => s.targets).sort();
    const apps = ['anomaly-detector', 'gateway', 'intent-classifier'];
    expect(targets).toEqual(apps.map((a) => `${a}:${c.services[a].environment?.['PORT']}`));
    expect(c.services['prometheus'].depends_on?.slice().sort()).toEqual(apps);
  });

  it("provisions Grafana's datasource at the prometheus service and its dashboard folder from the mount", () => {
    const c = compose();
    const grafana = c.services['grafana'];
    const m = mounts(grafana, c.volumes ?? {});
    const provisioning = hostPath(m, '/etc/grafana/provisioning');
    const ds = YAML.parse(read(`${provisioning}/datasources/prometheus.yml`)) as { datasources: { type: string; url: string }[] };
    const url = new URL(ds.datasources[0].url);
    expect(ds.datasources[0].type).toBe('prometheus');
    expect(Object.keys(c.services)).toContain(url.hostname);
    expect(url.port).toBe('9090');
    const providers = YAML.parse(read(`${provisioning}/dashboards/ml-services.yml`)) as { providers: { type: string; options: { path: string } }[] };
    const dir = hostPath(m, providers.providers[0].options.path);
    expect(readdirSync(join(ROOT, dir))).toContain('ml-services.json');
    expect(hostPath(m, String(grafana.environment?.['GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH']))).toBe(DASHBOARD);
  });
});

describe('k8s/monitoring', () => {
  const kustomization = () =>
    YAML.parse(read('k8s/monitoring/kustomization.yaml')) as {
      resources: string[];
      configMapGenerator: { name: string; files: string[]; options: { labels: Record<string, string> } }[];
    };

  it('references only files inside its own directory (kustomize refuses others), all present', () => {
    const k = kustomization();
    const files = [...k.resources, ...k.configMapGenerator.flatMap((g) => g.files)];
    for (const f of files) {
      expect(relative('k8s/monitoring', posix.join('k8s/monitoring', f)).startsWith('..')).toBe(false);
      expect(statSync(join(ROOT, 'k8s/monitoring', f)).isFile()).toBe(true);
    }
    expect(k.configMapGenerator[0].options.labels['grafana_dashboard']).toBe('1');
  });

  it("scrapes the apps' pods as the Deployments in k8s/ label them, on a port they name, with readiness probes the rules assume", () => {
    const monitor = YAML.parse(read('k8s/monitoring/pod-monitor.yaml')) as {
      spec: {
        jobLabel: string;
        selector: { matchLabels: Record<string, string>; matchExpressions: { key: string; values: string[] }[] };
        podMetricsEndpoints: { port: string; path: string }[];
      };
    };
    const yamls = (dir: string): string[] =>
      readdirSync(join(ROOT, dir), { withFileTypes: true }).flatMap((e) =>
        e.isDirectory() ? (e.name === 'monitoring' ? [] : yamls(posix.join(dir, e.name))) : /\.ya?ml$/.test(e.name) ? [posix.join(dir, e.name)] : [],
      );
    interface Deployment {
      kind: string;
      spec?: { template?: { metadata?: { labels?: Record<string, string> }; spec?: { containers?: { ports?: { name?: string }[]; readinessProbe?: { timeoutSeconds?: number } }[] } } };
    }
    const pods = yamls('k8s')
      .flatMap((f) => YAML.parseAllDocuments(read(f)).map((d) => d.toJSON() as Deployment | null))
      .filter((d): d is Deployment => d?.kind === 'Deployment' && d.spec?.template?.metadata?.labels !== undefined)
      .map((d) => d.spec?.template);
    const { matchLabels, matchExpressions } = monitor.spec.selector;
    const selected = pods.filter(
      (p) =>
        Object.entries(matchLabels).every(([k, v]) => p?.metadata?.labels?.[k] === v) &&
        matchExpressions.every((e) => e.values.includes(String(p?.metadata?.labels?.[e.key]))),
    );
    // k8s/ may hold a base and overlays (patches of the same Deployments): judge each app by all its documents.
    const names = [...new Set(selected.map((p) => String(p?.metadata?.labels?.['app.kubernetes.io/name'])))].sort();
    expect(names).toEqual(['anomaly-detector', 'gateway', 'intent-classifier']);
    for (const name of names) {
      const docs = selected.filter((p) => p?.metadata?.labels?.['app.kubernetes.io/name'] === name);
      const containers = docs.flatMap((p) => p?.spec?.containers ?? []);
      expect(docs.every((p) => p?.metadata?.labels?.[monitor.spec.jobLabel] === 'ml-services')).toBe(true);
      expect({ name, port: containers.some((c) => c.ports?.some((x) => x.name === monitor.spec.podMetricsEndpoints[0].port)) }).toEqual({ name, port: true });
      // instance:ml_readiness_failures counts readiness answers over 1 s as failed: the probes'
      // timeout must be above that (it is 2 s; Kubernetes' default, 1 s, would not do: set it).
      const timeouts = containers.flatMap((c) => (c.readinessProbe?.timeoutSeconds === undefined ? [] : [c.readinessProbe.timeoutSeconds]));
      expect({ name, timeouts: timeouts.length > 0 && Math.min(...timeouts) > 1 }).toEqual({ name, timeouts: true });
    }
  });
});
