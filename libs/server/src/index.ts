export { createService, runService, startService, type RunningService, type ServiceOptions } from './lib/bootstrap';
export { requestIdFor } from './lib/request-id';
export { CoreModule, type CoreOptions } from './lib/core.module';
