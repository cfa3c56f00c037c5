export { AuthModule } from './lib/auth.module';
export { ApiKeyGuard, Public, RequiresScope, matchKey, presentedSecret, requiredScope, type AuthedRequest, type AuthenticatedKey } from './lib/auth.guard';
export { DEV_API_KEY, MODEL_SCOPES, loadAuthConfig, sha256, type ApiKeyEntry, type AuthConfig, type ModelScope } from './lib/auth.config';
export { ForbiddenError, UnauthorizedError } from './lib/auth.errors';
