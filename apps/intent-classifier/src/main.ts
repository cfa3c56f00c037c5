import { loadOrExit, loadServiceConfig } from '@ml/config';
import { runService } from '@ml/server';
import { IntentClassifierModule } from './intent-classifier.module';

const config = loadOrExit(() => loadServiceConfig(3001));
void runService({ name: 'intent-classifier', module: IntentClassifierModule.forRoot(config), config });
