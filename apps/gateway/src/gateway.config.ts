import { env, loadEnv, loadServiceConfig, type Env, type ServiceConfig } from '@ml/config';

export interface GatewayConfig {
  service: ServiceConfig;
  upstreams: { intentClassifier: string; anomalyDetector: string };
}

export function loadGatewayConfig(source: Env = process.env): GatewayConfig {
  const e = loadEnv(
    {
      INTENT_CLASSIFIER_URL: env.httpUrl('http://127.0.0.1:3001'),
      ANOMALY_DETECTOR_URL: env.httpUrl('http://127.0.0.1:3002'),
    },
    source,
  );
  return {
    service: loadServiceConfig(3000, source),
    upstreams: { intentClassifier: e.INTENT_CLASSIFIER_URL, anomalyDetector: e.ANOMALY_DETECTOR_URL },
  };
}
