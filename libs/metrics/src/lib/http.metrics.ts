import { Histogram, Registry } from 'prom-client';

/** Duration of every HTTP request by method, route template and status. */
export class HttpMetrics {
  readonly duration: Histogram<'method' | 'route' | 'status_code'>;

  constructor(registry: Registry) {
    this.duration = new Histogram({
      name: 'http_request_duration_seconds',
      help: 'HTTP request duration by method, route template and status code',
      labelNames: ['method', 'route', 'status_code'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [registry],
    });
  }

  observe(method: string, route: string | undefined, status: number, seconds: number) {
    // Unmatched paths share one label so a scanner cannot explode the series count.
    this.duration.observe({ method, route: route ?? 'unmatched', status_code: String(status) }, seconds);
  }
}
