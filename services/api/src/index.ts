export { buildApi } from './app.js';
export { Authenticator, type SessionResolver } from './auth.js';
export { loadApiConfig, type ApiConfig } from './config.js';
export { createApiDeps, createApiPool, type ApiDeps } from './deps.js';
export { API_ERROR_CODES, ApiError, type ApiErrorCode } from './errors.js';
export { ApiKeyStore, type ApiKeyRecord, type Principal } from './keys.js';
export { migrateApiSchema } from './migrations.js';
export { defineRoute } from './http/route.js';
export type { RegisterRoutes } from './routes/index.js';
