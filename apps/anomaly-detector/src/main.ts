import { loadOrExit, loadServiceConfig } from '@ml/config';
import { runService } from '@ml/server';
import { AnomalyDetectorModule } from './anomaly-detector.module';

const config = loadOrExit(() => loadServiceConfig(3002));
void runService({ name: 'anomaly-detector', module: AnomalyDetectorModule.forRoot(config), config });
