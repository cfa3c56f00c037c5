export { ConfigError, isConfigError } from './lib/config.errors';
export { loadEnv, loadOrExit } from './lib/config.loader';
export type { Env, EnvOf, EnvShape } from './lib/config.types';
export * as env from './lib/config.vars';
export { parseBytes } from './lib/config.vars';
export { loadServiceConfig, type ServiceConfig } from './lib/service.config';
export { parseTrustProxy } from './lib/trust-proxy';
