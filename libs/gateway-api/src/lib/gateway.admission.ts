import { AdmissionModule, type AdmissionSettings } from '@ml/admission';
import { REQUEST_TIMEOUT_HEADER, remainingBudgetMs } from '@ml/contracts';
import type { FastifyRequest } from 'fastify';
import { hash } from 'node:crypto';
import { MODEL_NAMES, type ModelName } from './gateway.service';

const PREDICT = /^\/predict\/(intent|anomaly)(\/batch)?\/?$/;
const INFER = /^\/v2\/models\/([^/]+)(\/versions\/[^/]+)?\/infer\/?$/;

/** The model a request loads, or undefined for everything that is never shed (probes, metrics, docs, monitoring). */
export function modelOf(method: string, path: string): ModelName | undefined {
  if (method !== 'POST') return undefined;
  const p = PREDICT.exec(path);
  if (p) return p[1] === 'intent' ? 'intent-classifier' : 'anomaly-detector';
  const i = INFER.exec(path);
  return i && (MODEL_NAMES as readonly string[]).includes(i[1]) ? (i[1] as ModelName) : undefined;
}

/**
 * Who is asking, for fair shedding: a digest of the credential the request carries (never the
 * secret itself), else the client address. Whether the key is valid is the auth guard's business
 * later on; an unknown key is answered 401 at once and holds nothing for long.
 */
export function clientKeyOf(request: FastifyRequest): string {
  const h = request.headers;
  const key = h['x-api-key'] ?? h['authorization'];
  const secret = Array.isArray(key) ? key[0] : key;
  return secret ? hash('sha1', secret) : `ip:${request.ip}`;
}

/** Load shedding per model at the gateway's front door. */
export const gatewayAdmission = (settings: AdmissionSettings, requestTimeoutMs: number) =>
  AdmissionModule.forRoot({
    settings,
    targets: MODEL_NAMES,
    targetOf: modelOf,
    keyOf: clientKeyOf,
    remainingMs: (request) => remainingBudgetMs(request.raw, request.headers[REQUEST_TIMEOUT_HEADER], requestTimeoutMs),
  });
