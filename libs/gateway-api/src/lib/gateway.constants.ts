export const UPSTREAMS = Symbol('UPSTREAMS');
export const GATEWAY_CACHE = Symbol('GATEWAY_CACHE');
export const GATEWAY_SETTINGS = Symbol('GATEWAY_SETTINGS');
export const GATEWAY_OPTIONS = Symbol('GATEWAY_OPTIONS');
export const GATEWAY_REDIS_STATUS = Symbol('GATEWAY_REDIS_STATUS');
