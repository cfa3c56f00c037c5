export {
  UpstreamPool,
  type AttemptOutcome,
  type EjectReason,
  type Endpoint,
  type EndpointView,
  type PoolClock,
  type PoolEvent,
  type PoolOptions,
  type Resolver,
} from './lib/upstream-pool';
export { parseTargets, type Target } from './lib/upstream-pool.targets';
export { systemResolver } from './lib/upstream-pool.dns';
