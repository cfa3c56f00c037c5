export { METRICS_REGISTRY } from './lib/metrics.constants';
export { MetricsModule, type MetricsOptions } from './lib/metrics.module';
export { HttpMetrics } from './lib/http.metrics';
export { PredictionMetrics, type PredictionStatus } from './lib/prediction.metrics';
export { Counter, Gauge, Histogram, Registry } from 'prom-client';
