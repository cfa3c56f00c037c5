/** Injection token of the prom-client Registry an app owns (never the global one). */
export const METRICS_REGISTRY = Symbol('METRICS_REGISTRY');
