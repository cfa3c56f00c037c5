/**
 * The ml-services Grafana dashboard, as code: `npx nx run monitoring:generate` writes it to
 * monitoring/grafana/dashboards/ml-services.json (and the copy k8s/monitoring reads). Every query
 * names only series the apps export or rules.yml records (apps/e2e/src/monitoring.e2e.spec.ts).
 */

export interface Target {
  expr: string;
  legendFormat: string;
}

type Unit = 'reqps' | 'percentunit' | 's' | 'short' | 'bytes' | 'none';

interface PanelSpec {
  title: string;
  description: string;
  targets: Target[];
  unit: Unit;
  width: number;
  kind?: 'timeseries' | 'state-timeline';
  /** state-timeline: value -> [text, colour]. */
  states?: Record<string, [string, string]>;
  /** A red line at this value (the alert's threshold). */
  threshold?: number;
  min?: number;
  max?: number;
}

/** Every selector of app series is narrowed to the services picked in the dashboard's variable. */
const S = 'service=~"$service"';
const RATE = '$__rate_interval';
const PREDICTION_ROUTES = 'route=~"/predict/.+|/v2/models/.+"';
const ANOMALY_SCORED = `ml_prediction_total{${S}, model="anomaly-detector", status="success"}`;

const q = (expr: string, legendFormat: string): Target => ({ expr, legendFormat });
const quantiles = (metric: string, by: string, legend: string, qs = [0.5, 0.95, 0.99]) =>
  qs.map((x) => q(`histogram_quantile(${x}, sum by (${by}, le) (rate(${metric}[${RATE}])))`, `p${Math.round(x * 100)} ${legend}`));

const PANEL_HEIGHT = 8;

const ROWS: { title: string; panels: PanelSpec[] }[] = [
  {
    title: 'Traffic (every app, by route)',
    panels: [
      {
        title: 'Request rate by service and route',
        description: 'Answers per second, probes and scrapes left out. The gateway is what clients see; the model apps get its forwarded calls.',
        targets: [q(`sum by (service, route) (rate(http_request_duration_seconds_count{${S}, route!~"/health.*|/metrics"}[${RATE}]))`, '{{service}} {{route}}')],
        unit: 'reqps',
        width: 12,
      },
      {
        title: 'Error ratio (5xx) by service and route',
        description: 'Share of answers that were 5xx: sheds (503 overloaded), open breakers (503), upstream failures (502) and timeouts (504). Alert MLHighErrorRatio at 5% on prediction routes.',
        targets: [
          q(
            `sum by (service, route) (rate(http_request_duration_seconds_count{${S}, route!~"/health.*|/metrics", status_code=~"5.."}[${RATE}])) / sum by (service, route) (rate(http_request_duration_seconds_count{${S}, route!~"/health.*|/metrics"}[${RATE}]))`,
            '{{service}} {{route}}',
          ),
        ],
        unit: 'percentunit',
        width: 12,
        threshold: 0.05,
        min: 0,
      },
      {
        title: 'Latency percentiles of prediction routes',
        description: 'From the moment the server saw the request to its answer. Alert MLHighLatencyP99 at 500 ms.',
        targets: quantiles(`http_request_duration_seconds_bucket{${S}, ${PREDICTION_ROUTES}}`, 'service, route', '{{service}} {{route}}'),
        unit: 's',
        width: 12,
        threshold: 0.5,
      },
      {
        title: 'Client errors (4xx) by service and status',
        description: '401/403 keys and scopes, 404/405 paths, 408 slow clients, 413/415/431 bodies and headers, 422 validation, 429 rate limits.',
        targets: [q(`sum by (service, status_code) (rate(http_request_duration_seconds_count{${S}, status_code=~"4.."}[${RATE}]))`, '{{service}} {{status_code}}')],
        unit: 'reqps',
        width: 12,
      },
    ],
  },
  {
    title: 'Models',
    panels: [
      {
        title: 'Predictions by model and outcome',
        description: 'Per item (a batch of 256 counts 256). rejected: queue full or not ready; timeout: deadline passed in the queue.',
        targets: [q(`sum by (model, status) (rate(ml_prediction_total{${S}}[${RATE}]))`, '{{model}} {{status}}')],
        unit: 'reqps',
        width: 8,
      },
      {
        title: 'Prediction latency by model',
        description: 'From a prediction being queued to its result, inside the model app (successes only).',
        targets: quantiles(`ml_prediction_latency_seconds_bucket{${S}}`, 'model', '{{model}}', [0.5, 0.99]),
        unit: 's',
        width: 8,
      },
      {
        title: 'Median confidence (intent) and score (anomaly)',
        description: 'A shift here with steady traffic means the inputs changed or the wrong model version is served.',
        targets: quantiles(`ml_prediction_confidence_bucket{${S}}`, 'model', '{{model}}', [0.5]),
        unit: 'none',
        width: 8,
        min: 0,
        max: 1,
      },
      {
        title: 'Invalid input by model and kind',
        description: 'Bodies refused with 422: validation (schema) or rule (amount, timestamp skew).',
        targets: [q(`sum by (service, model, error) (rate(ml_invalid_input_total{${S}}[${RATE}]))`, '{{service}} {{model}} {{error}}')],
        unit: 'reqps',
        width: 12,
      },
      {
        title: 'Load shed by target and reason',
        description: 'Requests answered 503 at once (X-ML-Shed: 1) instead of queued: deadline, fair_share, capacity.',
        targets: [q(`sum by (service, target, reason) (rate(ml_load_shed_total{${S}}[${RATE}]))`, '{{service}} {{target}} {{reason}}')],
        unit: 'reqps',
        width: 12,
      },
    ],
  },
  {
    title: 'Gateway: cache, breakers, rate limits',
    panels: [
      {
        title: 'Cache hit ratio',
        description: 'Prediction cache (Redis when REDIS_URL is set, else per process).',
        targets: [
          q(
            `sum by (cache) (rate(ml_model_cache_hits_total{${S}}[${RATE}])) / (sum by (cache) (rate(ml_model_cache_hits_total{${S}}[${RATE}])) + sum by (cache) (rate(ml_model_cache_misses_total{${S}}[${RATE}])))`,
            '{{cache}}',
          ),
        ],
        unit: 'percentunit',
        width: 8,
        min: 0,
        max: 1,
      },
      {
        title: 'Circuit breaker states',
        description: 'Worst pod per breaker. Gateway: one per model app; anomaly detector: redis-profiles. Alert MLCircuitBreakerOpen (model apps, 2 minutes).',
        targets: [q(`max by (service, upstream) (ml_circuit_breaker_state{${S}})`, '{{service}} → {{upstream}}')],
        unit: 'none',
        width: 8,
        kind: 'state-timeline',
        states: { '0': ['closed', 'green'], '1': ['half-open', 'yellow'], '2': ['open', 'red'] },
      },
      {
        title: 'Rate-limit rejections',
        description: '429s by tracker: key (API key) or ip (no key).',
        targets: [q(`sum by (tracker) (rate(ml_rate_limit_rejections_total{${S}}[${RATE}]))`, '{{tracker}}')],
        unit: 'reqps',
        width: 8,
      },
      {
        title: 'Upstream retries, breaker rejections and failures',
        description: 'Gateway calls to the model apps. Failures by kind: error, timeout, slow (over CIRCUIT_BREAKER_SLOW_CALL_MS).',
        targets: [
          q(`sum by (upstream) (rate(ml_upstream_retries_total{${S}}[${RATE}]))`, 'retried {{upstream}}'),
          q(`sum by (upstream) (rate(ml_upstream_rejected_total{${S}}[${RATE}]))`, 'refused by open breaker {{upstream}}'),
          q(`sum by (upstream, kind) (rate(ml_upstream_failures_total{${S}}[${RATE}]))`, 'failed ({{kind}}) {{upstream}}'),
        ],
        unit: 'reqps',
        width: 12,
      },
      {
        title: 'Requests in flight (admission)',
        description: 'Admitted and not yet answered, summed over pods; shedding starts when this outgrows what the deadline allows.',
        targets: [q(`sum by (service, target) (ml_admission_in_flight{${S}})`, '{{service}} {{target}}')],
        unit: 'short',
        width: 12,
      },
    ],
  },
  {
    title: 'Inference batching (model apps)',
    panels: [
      {
        title: 'Batch size by model',
        description: 'Items per inference run. Under load runs fill up (up to INFERENCE_MAX_BATCH); at 1 the app is idle or latency-bound.',
        targets: [
          q(`sum by (model) (rate(ml_inference_batch_size_sum{${S}}[${RATE}])) / sum by (model) (rate(ml_inference_batch_size_count{${S}}[${RATE}]))`, 'mean {{model}}'),
          ...quantiles(`ml_inference_batch_size_bucket{${S}}`, 'model', '{{model}}', [0.99]),
        ],
        unit: 'short',
        width: 8,
      },
      {
        title: 'Queue wait by model',
        description: 'Time an item waited in the batching queue before its run started.',
        targets: quantiles(`ml_inference_queue_wait_seconds_bucket{${S}}`, 'model', '{{model}}', [0.5, 0.99]),
        unit: 's',
        width: 8,
      },
      {
        title: 'Inference run duration by model',
        description: 'One ONNX run (a whole batch).',
        targets: quantiles(`ml_inference_run_seconds_bucket{${S}}`, 'model', '{{model}}', [0.5, 0.99]),
        unit: 's',
        width: 8,
      },
    ],
  },
  {
    title: 'Redis and the anomaly detector',
    panels: [
      {
        title: 'Redis degraded mode',
        description: 'degraded: state kept per process because Redis is down or slow (cache skipped, limits per pod, histories not read or written). Alert MLRedisDegraded after 2 minutes.',
        targets: [
          q(`max by (service, use) (ml_redis_degraded{${S}})`, '{{service}} {{use}}'),
          q(`max by (service) (ml_rate_limit_degraded{${S}})`, '{{service}} rate limits'),
          q(`max by (service) (ml_profile_store_degraded{${S}, store="redis"})`, '{{service}} customer histories'),
        ],
        unit: 'none',
        width: 8,
        kind: 'state-timeline',
        states: { '0': ['ok', 'green'], '1': ['degraded', 'orange'] },
      },
      {
        title: 'Anomaly alert rate',
        description: 'Share of scored transactions answered is_anomaly = true (the served operating point, ANOMALY_ALERT_RATE, is what it should hover around), against its last hour and 7-day baseline. Alert MLAnomalyAlertRateDrift beyond 2× or ½ of the baseline.',
        targets: [
          // 0, not "no data", while nothing was flagged: a labelled counter has no series before its first alert.
          q(`(sum(rate(ml_anomaly_flagged_total{${S}}[${RATE}])) or sum(rate(${ANOMALY_SCORED}[${RATE}])) * 0) / sum(rate(${ANOMALY_SCORED}[${RATE}]))`, 'now'),
          q('sum(namespace_model:ml_anomaly_alert_rate:ratio_rate1h)', 'last hour'),
          q('sum(namespace_model:ml_anomaly_alert_rate:ratio_rate7d)', '7-day baseline'),
        ],
        unit: 'percentunit',
        width: 8,
        min: 0,
      },
      {
        title: 'Scoring without history',
        description: 'Transactions scored on population features only (history unavailable), not folded into history (by reason), and write-backs that met a concurrent write.',
        targets: [
          q(`sum(rate(ml_anomaly_degraded_total{${S}}[${RATE}]))`, 'scored without history'),
          q(`sum by (reason) (rate(ml_profile_fold_skipped_total{${S}}[${RATE}]))`, 'not folded: {{reason}}'),
          q(`sum(rate(ml_profile_cas_conflicts_total{${S}}[${RATE}]))`, 'write conflicts'),
        ],
        unit: 'reqps',
        width: 8,
      },
    ],
  },
  {
    title: 'Processes',
    panels: [
      {
        title: 'Readiness failures per instance',
        description: 'Readiness answers that were not 200, or took over 1 s, per minute. Alert MLReadinessFlapping when seen in 3 of 15 minutes.',
        targets: [q(`sum by (service, instance) (instance:ml_readiness_failures:increase1m{${S}})`, '{{service}} {{instance}}')],
        unit: 'short',
        width: 6,
      },
      {
        title: 'Event loop lag p99',
        description: 'A blocked event loop delays every request and probe of that process.',
        targets: [q(`max by (service, instance) (nodejs_eventloop_lag_p99_seconds{${S}})`, '{{service}} {{instance}}')],
        unit: 's',
        width: 6,
      },
      {
        title: 'CPU per instance',
        description: 'Cores used (user + system).',
        targets: [q(`sum by (service, instance) (rate(process_cpu_seconds_total{${S}}[${RATE}]))`, '{{service}} {{instance}}')],
        unit: 'short',
        width: 6,
      },
      {
        title: 'Resident memory per instance',
        description: 'RSS; compare with the container limits in k8s/.',
        targets: [q(`max by (service, instance) (process_resident_memory_bytes{${S}})`, '{{service}} {{instance}}')],
        unit: 'bytes',
        width: 6,
      },
    ],
  },
];

const DATASOURCE = { type: 'prometheus', uid: '${datasource}' };

function panelJson(p: PanelSpec, id: number, x: number, y: number) {
  const refIds = 'ABCDEFGHIJ';
  const steps: { color: string; value: number | null }[] = [{ color: 'green', value: null }];
  if (p.threshold !== undefined) steps.push({ color: 'red', value: p.threshold });
  const mappings = p.states
    ? [
        {
          type: 'value',
          options: Object.fromEntries(Object.entries(p.states).map(([v, [text, color]], index) => [v, { text, color, index }])),
        },
      ]
    : [];
  const custom =
    p.kind === 'state-timeline'
      ? { fillOpacity: 80, lineWidth: 0 }
      : { drawStyle: 'line', lineWidth: 1, fillOpacity: 10, showPoints: 'never', spanNulls: false, thresholdsStyle: { mode: p.threshold === undefined ? 'off' : 'line' } };
  return {
    id,
    type: p.kind ?? 'timeseries',
    title: p.title,
    description: p.description,
    datasource: DATASOURCE,
    gridPos: { h: PANEL_HEIGHT, w: p.width, x, y },
    fieldConfig: {
      defaults: {
        unit: p.unit,
        ...(p.min === undefined ? {} : { min: p.min }),
        ...(p.max === undefined ? {} : { max: p.max }),
        color: { mode: p.states ? 'thresholds' : 'palette-classic' },
        thresholds: { mode: 'absolute', steps },
        mappings,
        custom,
      },
      overrides: [],
    },
    options:
      p.kind === 'state-timeline'
        ? { showValue: 'never', mergeValues: true, alignValue: 'left', rowHeight: 0.9, legend: { showLegend: false, displayMode: 'list', placement: 'bottom' }, tooltip: { mode: 'single', sort: 'none' } }
        : { legend: { showLegend: true, displayMode: 'list', placement: 'bottom', calcs: [] }, tooltip: { mode: 'multi', sort: 'desc' } },
    targets: p.targets.map((t, i) => ({ refId: refIds[i], datasource: DATASOURCE, expr: t.expr, legendFormat: t.legendFormat, range: true })),
  };
}

/** The dashboard model Grafana imports (schema of Grafana 11). */
export function buildDashboard() {
  const panels: object[] = [];
  let id = 1;
  let y = 0;
  for (const row of ROWS) {
    panels.push({ id: id++, type: 'row', title: row.title, collapsed: false, gridPos: { h: 1, w: 24, x: 0, y }, panels: [] });
    y += 1;
    let x = 0;
    for (const p of row.panels) {
      if (x + p.width > 24) {
        x = 0;
        y += PANEL_HEIGHT;
      }
      panels.push(panelJson(p, id++, x, y));
      x += p.width;
    }
    y += PANEL_HEIGHT;
  }
  return {
    uid: 'ml-services',
    title: 'ml-services',
    description: 'Gateway, intent classifier and anomaly detector: traffic, errors, latency, cache, breakers, limits, batching, Redis, anomaly alert rate. Runbook: README.md, "Operating".',
    tags: ['ml-services'],
    editable: false,
    graphTooltip: 1,
    refresh: '30s',
    schemaVersion: 39,
    version: 1,
    time: { from: 'now-3h', to: 'now' },
    timepicker: {},
    timezone: 'utc',
    fiscalYearStartMonth: 0,
    liveNow: false,
    weekStart: '',
    annotations: {
      list: [
        {
          name: 'Annotations & Alerts',
          builtIn: 1,
          type: 'dashboard',
          datasource: { type: 'grafana', uid: '-- Grafana --' },
          enable: true,
          hide: true,
          iconColor: 'rgba(0, 211, 255, 1)',
        },
      ],
    },
    templating: {
      list: [
        { name: 'datasource', label: 'Prometheus', type: 'datasource', query: 'prometheus', current: {}, hide: 0, refresh: 1, options: [] },
        {
          name: 'service',
          label: 'Service',
          type: 'query',
          datasource: DATASOURCE,
          query: { query: 'label_values(http_request_duration_seconds_count, service)', refId: 'service' },
          definition: 'label_values(http_request_duration_seconds_count, service)',
          multi: true,
          includeAll: true,
          allValue: '.*',
          current: { selected: true, text: ['All'], value: ['$__all'] },
          refresh: 2,
          sort: 1,
          hide: 0,
          options: [],
        },
      ],
    },
    panels,
  };
}

/** Every PromQL expression of a dashboard: panel targets and variable queries (`label_values(...)` included). */
export function dashboardExpressions(dashboard: DashboardJson): { where: string; expr: string }[] {
  const out: { where: string; expr: string }[] = [];
  for (const p of dashboard.panels) for (const t of p.targets ?? []) out.push({ where: p.title, expr: t.expr });
  for (const v of dashboard.templating.list) if (v.definition) out.push({ where: `variable ${v.name}`, expr: v.definition });
  return out;
}

/** The parts of a dashboard's JSON the checks read. */
export interface DashboardJson {
  uid: string;
  panels: { id: number; type: string; title: string; gridPos: { h: number; w: number; x: number; y: number }; datasource?: { uid: string }; targets?: { expr: string; datasource?: { uid: string } }[] }[];
  templating: { list: { name: string; type: string; definition?: string }[] };
}
