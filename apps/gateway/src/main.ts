import { loadOrExit } from '@ml/config';
import { runService } from '@ml/server';
import { loadGatewayConfig } from './gateway.config';
import { GatewayModule } from './gateway.module';

const config = loadOrExit(() => loadGatewayConfig());
void runService({ name: 'gateway', module: GatewayModule.forRoot(config), config: config.service });
