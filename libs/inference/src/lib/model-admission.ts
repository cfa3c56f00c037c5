import { AdmissionModule, loadAdmissionSettings, type AdmissionSettings } from '@ml/admission';
import { REQUEST_TIMEOUT_HEADER, remainingBudgetMs } from '@ml/contracts';

const INFER = /^\/v2\/models\/[^/]+(\/versions\/[^/]+)?\/infer\/?$/;

/** Prediction work: `POST /predict/...` and the protocol's `POST /v2/models/{name}/infer`. */
export const isPredictionRoute = (method: string, path: string) => method === 'POST' && (path.startsWith('/predict/') || INFER.test(path));

/**
 * Load shedding in front of a model app's prediction routes: a request that could not be answered
 * within its remaining deadline is answered 503 at once (marked as shed, so the gateway passes it
 * on rather than counting it against this service). Probes, metrics and metadata are never shed.
 */
export const modelAdmission = (model: string, settings: AdmissionSettings | undefined, requestTimeoutMs: number) =>
  AdmissionModule.forRoot({
    settings: settings ?? loadAdmissionSettings({}),
    targets: [model],
    targetOf: (method, path) => (isPredictionRoute(method, path) ? model : undefined),
    // The callers are gateway replicas: fairness between them by address.
    keyOf: (request) => request.ip,
    remainingMs: (request) => remainingBudgetMs(request.raw, request.headers[REQUEST_TIMEOUT_HEADER], requestTimeoutMs),
  });
