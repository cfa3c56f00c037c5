import { execFileSync } from 'node:child_process';
import { createHash, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import * as YAML from 'yaml';
import { http } from './support/http';
import { schemaProblems, type K8sObject } from './support/k8s';
import { ROOT, startApp, type AppName, type RunningApp } from './support/processes';

/**
 * Every series the Grafana dashboard and the Prometheus rules (monitoring/) read must be one the
 * built apps export: the three apps boot as processes, get traffic, and their /metrics are scraped.
 * A family is listed (`# TYPE`) even before its first observation; the sample names follow from
 * its type (histograms: _bucket, _sum, _count). Label names in selectors are checked against the
 * samples too, where the traffic produced some.
 */

const REDIS_URL = 'redis://127.0.0.1:6379';
const RUN = `${process.pid}-${randomUUID().slice(0, 8)}`;
const PROFILE_PREFIX = `ml:e2e-monitoring:${RUN}:`;
const sha256hex = (s: string) => createHash('sha256').update(s, 'utf8').digest('hex');
const KEY = { name: `e2e-monitoring-${RUN}`, secret: `monitoring-${randomUUID()}` };
const RATE_LIMIT = 12;

// ---- PromQL: the metric selectors of an expression -------------------------------------------

const FUNCTIONS = new Set(
  (
    'abs absent absent_over_time avg_over_time ceil changes clamp clamp_max clamp_min count_over_time days_in_month day_of_month ' +
    'day_of_week day_of_year deriv exp floor histogram_quantile holt_winters hour idelta increase irate label_join label_replace ln ' +
    'log2 log10 max_over_time min_over_time minute month predict_linear quantile_over_time rate resets round scalar sgn sort ' +
    'sort_desc sqrt stddev_over_time stdvar_over_time sum_over_time time timestamp vector year last_over_time present_over_time ' +
    'sum min max avg group stddev stdvar count count_values bottomk topk quantile'
  ).split(' '),
);
const KEYWORDS = new Set(['and', 'or', 'unless', 'bool', 'offset', 'atan2', 'inf', 'nan']);

interface Selector {
  name: string;
  labels: string[];
}

/** The metric selectors of a PromQL expression (Grafana's `$variables` allowed inside {} and []). */
function selectorsOf(expr: string): Selector[] {
  const labelValues = /^label_values\((.+),\s*\w+\)$/.exec(expr);
  const s = (labelValues ? labelValues[1] : expr)
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, '""')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ')
    .replace(/(?<![\w:])\d[\w.]*/g, ' ');
  const out: Selector[] = [];
  for (const m of s.matchAll(/([a-zA-Z_:][\w:]*)\s*(\{[^}]*\})?/g)) {
    const [whole, name, braces] = m;
    const next = s.slice((m.index ?? 0) + whole.length).trimStart();
    if (!braces && next.startsWith('(')) {
      if (!FUNCTIONS.has(name)) throw new Error(`unknown PromQL function ${name} in ${expr}`);
      continue;
    }
    if (!braces && KEYWORDS.has(name.toLowerCase())) continue;
    out.push({ name, labels: [...(braces ?? '').matchAll(/([a-zA-Z_]\w*)\s*(?:=~|!~|!=|=)/g)].map((l) => l[1]) });
  }
  return out;
}

// ---- What the dashboard and the rules read --------------------------------------------------

interface Use {
  where: string;
  selector: Selector;
}

function uses(): { uses: Use[]; recorded: Set<string> } {
  const rules = YAML.parse(readFileSync(join(ROOT, 'monitoring/prometheus/rules.yml'), 'utf8')) as {
    groups: { rules: { alert?: string; record?: string; expr: string }[] }[];
  };
  const dashboard = JSON.parse(readFileSync(join(ROOT, 'monitoring/grafana/dashboards/ml-services.json'), 'utf8')) as {
    panels: { title: string; targets?: { expr: string }[] }[];
    templating: { list: { name: string; definition?: string }[] };
  };
  const out: Use[] = [];
  const recorded = new Set<string>();
  for (const r of rules.groups.flatMap((g) => g.rules)) {
    if (r.record) recorded.add(r.record);
    for (const selector of selectorsOf(r.expr)) out.push({ where: `rules.yml ${r.alert ?? r.record}`, selector });
  }
  for (const p of dashboard.panels)
    for (const t of p.targets ?? []) for (const selector of selectorsOf(t.expr)) out.push({ where: `dashboard "${p.title}"`, selector });
  for (const v of dashboard.templating.list)
    if (v.definition) for (const selector of selectorsOf(v.definition)) out.push({ where: `dashboard variable ${v.name}`, selector });
  return { uses: out, recorded };
}

// ---- What the apps export -------------------------------------------------------------------

const SAMPLE_SUFFIXES: Record<string, string[]> = { histogram: ['_bucket', '_sum', '_count'], summary: ['', '_sum', '_count'] };

interface Exposition {
  /** Sample names each family yields, by the family's # TYPE. */
  names: Set<string>;
  /** Label names seen on each sample name's samples. */
  labels: Map<string, Set<string>>;
}

function parseExposition(text: string, into: Exposition) {
  for (const line of text.split('\n')) {
    const type = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (type) for (const suffix of SAMPLE_SUFFIXES[type[2]] ?? ['']) into.names.add(`${type[1]}${suffix}`);
    const sample = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? \S+$/.exec(line);
    if (sample) {
      const seen = into.labels.get(sample[1]) ?? new Set<string>();
      for (const l of (sample[2] ?? '').matchAll(/([a-zA-Z_]\w*)="/g)) seen.add(l[1]);
      into.labels.set(sample[1], seen);
    }
  }
}

/** Labels Prometheus adds to every scraped series (compose: job, instance; the PodMonitor: namespace, pod, container, endpoint). */
const TARGET_LABELS = ['job', 'instance', 'namespace', 'pod', 'container', 'endpoint'];
/** Series of Prometheus itself, not of an app. */
const PROMETHEUS_OWN = new Set(['up']);
/**
 * Counters that move only on failures this spec does not cause (upstream retries and failures,
 * sheds, flagged or history-less transactions, write conflicts): their names are checked, their
 * label names are not (no sample to read them from).
 */
const FAILURE_ONLY = new Set([
  'ml_upstream_retries_total',
  'ml_upstream_rejected_total',
  'ml_upstream_failures_total',
  'ml_load_shed_total',
  'ml_anomaly_flagged_total',
  'ml_anomaly_degraded_total',
  'ml_profile_cas_conflicts_total',
]);

describe('selectorsOf (PromQL)', () => {
  it('finds metric selectors and their label names, not functions, keywords, grouping labels or numbers', () => {
    expect(
      selectorsOf(
        'histogram_quantile(0.99, sum by (service, le) (rate(a_bucket{route=~"/x|{y}", service=~"$service"}[$__rate_interval]))) > 0.5 and on (service) sum without (le) (b_total offset 1h) > bool 1e3',
      ),
    ).toEqual([
      { name: 'a_bucket', labels: ['route', 'service'] },
      { name: 'b_total', labels: [] },
    ]);
    expect(selectorsOf('sum_over_time((ns:rec:rate1m > bool 0)[15m:1m]) >= 3')).toEqual([{ name: 'ns:rec:rate1m', labels: [] }]);
    expect(selectorsOf('max by (s) (x or y or z{store="redis"}) == 1').map((s) => s.name)).toEqual(['x', 'y', 'z']);
    expect(selectorsOf('label_values(http_request_duration_seconds_count, service)')).toEqual([{ name: 'http_request_duration_seconds_count', labels: [] }]);
    expect(() => selectorsOf('ratee(x[5m])')).toThrow(/unknown PromQL function ratee/);
  });

  it('reads families by type: histogram samples are _bucket/_sum/_count, counters keep their _total', () => {
    const e: Exposition = { names: new Set(), labels: new Map() };
    parseExposition(
      ['# HELP h_seconds h', '# TYPE h_seconds histogram', '# HELP c_total c', '# TYPE c_total counter', 'c_total{a="1",service="s"} 2', '# TYPE g gauge'].join('\n'),
      e,
    );
    expect([...e.names].sort()).toEqual(['c_total', 'g', 'h_seconds_bucket', 'h_seconds_count', 'h_seconds_sum']);
    expect([...(e.labels.get('c_total') ?? [])]).toEqual(['a', 'service']);
  });
});

describe('monitoring: the dashboard and the rules read only what the apps export', () => {
  const apps: Partial<Record<AppName, RunningApp>> = {};
  const exposition: Exposition = { names: new Set(), labels: new Map() };
  let redis: Redis;

  async function waitReady(url: string) {
    for (let i = 0; i < 300; i++) {
      if ((await http(`${url}/health/ready`)).status === 200) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`${url} never became ready`);
  }

  beforeAll(async () => {
    redis = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
    await redis.connect();
    // With Redis, as in production: the degraded-mode gauges and the Redis breaker get their series.
    const [intent, anomaly] = await Promise.all([
      startApp('intent-classifier'),
      startApp('anomaly-detector', { REDIS_URL, ANOMALY_PROFILE_KEY_PREFIX: PROFILE_PREFIX }),
    ]);
    apps['intent-classifier'] = intent;
    apps['anomaly-detector'] = anomaly;
    await Promise.all([waitReady(intent.url), waitReady(anomaly.url)]);
    const gateway = await startApp(
      'gateway',
      {
        REDIS_URL,
        ML_API_KEYS: `${KEY.name}:${sha256hex(KEY.secret)}`,
        INTENT_CLASSIFIER_URL: intent.url,
        ANOMALY_DETECTOR_URL: anomaly.url,
        RATE_LIMIT_REQUESTS: String(RATE_LIMIT),
        CACHE_DEFAULT_TTL: '60',
        REQUEST_TIMEOUT_MS: '15000',
      },
      60_000,
    );
    apps.gateway = gateway;
    await waitReady(gateway.url);

    const post = (path: string, body: unknown) => http(`${gateway.url}${path}`, { body, headers: { 'x-api-key': KEY.secret } });
    const tx = (i: number) => ({
      transaction_id: `t-${RUN}-${i}`,
      user_id: `u-${RUN}`,
      amount: 20 + i,
      currency: 'EUR',
      timestamp: new Date(Date.now() - 3_600_000 + i * 60_000).toISOString(),
      merchant_category: 'grocery',
      channel: 'in_store',
    });
    const statuses: number[] = [];
    statuses.push((await post('/predict/intent', { query: `where is my card ${RUN}` })).status);
    statuses.push((await post('/predict/intent', { query: `where is my card ${RUN}` })).status); // a cache hit
    statuses.push((await post('/predict/intent/batch', { queries: [`lost card ${RUN}`, `change pin ${RUN}`] })).status);
    statuses.push((await post('/predict/anomaly', tx(0))).status);
    statuses.push((await post('/predict/anomaly/batch', { transactions: [tx(1), tx(2)] })).status);
    statuses.push((await post('/predict/intent', { query: '' })).status); // 422: invalid input
    expect(statuses).toEqual([200, 200, 200, 200, 200, 422]);
    // Past the key's limit: rate-limit rejections.
    let limited = 0;
    for (let i = 0; i < RATE_LIMIT && limited === 0; i++) if ((await post('/predict/intent', { query: `again ${RUN}` })).status === 429) limited++;
    expect(limited).toBe(1);

    for (const app of Object.values(apps)) {
      const res = await http(`${app.url}/metrics`);
      expect(res.status).toBe(200);
      parseExposition(res.text, exposition);
    }
  }, 180_000);

  afterAll(async () => {
    await Promise.all(Object.values(apps).map((a) => a.stop()));
    if (redis) {
      const keys = await redis.keys(`${PROFILE_PREFIX}*`);
      keys.push(`ml:rl:default:key:${KEY.name}`);
      await redis.del(...keys);
      redis.disconnect();
    }
  }, 60_000);

  it('names only series the apps export, or the rules record, or Prometheus makes itself (up)', () => {
    const { uses: all, recorded } = uses();
    expect(all.length).toBeGreaterThan(50);
    const unknown = all.filter((u) => !exposition.names.has(u.selector.name) && !recorded.has(u.selector.name) && !PROMETHEUS_OWN.has(u.selector.name));
    expect(unknown.map((u) => `${u.where}: ${u.selector.name}`)).toEqual([]);
  });

  it('matches only on labels those series carry', () => {
    const { uses: all } = uses();
    const problems: string[] = [];
    const unchecked = new Set<string>();
    for (const { where, selector } of all) {
      if (!exposition.names.has(selector.name)) continue;
      const seen = exposition.labels.get(selector.name);
      if (!seen) {
        unchecked.add(selector.name);
        continue;
      }
      for (const l of selector.labels) if (!seen.has(l) && !TARGET_LABELS.includes(l)) problems.push(`${where}: ${selector.name} has no label ${l}`);
    }
    expect(problems).toEqual([]);
    // Only failure counters may go without samples here; anything else means the traffic above no
    // longer reaches it (or the series is gone).
    expect([...unchecked].filter((n) => !FAILURE_ONLY.has(n))).toEqual([]);
  });

  it('exports what the operators rely on from every app', () => {
    for (const name of ['http_request_duration_seconds_bucket', 'process_cpu_seconds_total', 'nodejs_eventloop_lag_p99_seconds'])
      expect(exposition.names.has(name)).toBe(true);
    // Labelled families the spec did not exercise are still listed by their # TYPE.
    for (const name of FAILURE_ONLY) expect({ name, exported: exposition.names.has(name) }).toEqual({ name, exported: true });
  });
});

describe('k8s/monitoring', () => {
  it('renders (kubectl kustomize) into the PodMonitor, the PrometheusRule and the labelled dashboard ConfigMap, valid against their schemas', () => {
    const text = execFileSync(process.env['KUBECTL'] ?? 'kubectl', ['kustomize', join(ROOT, 'k8s', 'monitoring')], { encoding: 'utf8' });
    const objects = YAML.parseAllDocuments(text)
      .map((d) => d.toJSON() as K8sObject | null)
      .filter((o): o is K8sObject => o !== null);
    expect(objects.map((o) => `${o.kind}/${o.metadata.name}`).sort()).toEqual(['ConfigMap/ml-services-dashboard', 'PodMonitor/ml-services', 'PrometheusRule/ml-services']);
    expect(schemaProblems(objects)).toEqual([]);
    const dashboard = objects.find((o) => o.kind === 'ConfigMap');
    expect(dashboard?.metadata.labels?.['grafana_dashboard']).toBe('1');
    expect(dashboard?.data?.['ml-services.json']).toBe(readFileSync(join(ROOT, 'monitoring/grafana/dashboards/ml-services.json'), 'utf8'));
  });
});
