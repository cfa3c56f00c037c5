export { GatewayApiModule, type GatewayApiOptions } from './lib/gateway-api.module';
export { loadGatewaySettings, type GatewaySettings, type BreakerSettings } from './lib/gateway.config';
export { GatewayService, type ModelName } from './lib/gateway.service';
export type { GatewayOptions } from './lib/predict.controller';
export { UpstreamClient } from './lib/upstream.client';
export { buildOpenApiDocument, setupOpenApi } from './lib/openapi';
