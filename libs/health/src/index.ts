export { HealthModule } from './lib/health.module';
export { LifecycleService, type LifecyclePhase, type ReadinessGate, type ReadinessInfo } from './lib/lifecycle.service';
