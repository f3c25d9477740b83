export { INGEST_GRANTS, migrateRegistry, migrateRegistryWithGrants, MIGRATIONS } from './migrations.js';
export type { MigrationOutcome } from './migrations.js';
export { TenantRegistry } from './registry.js';
export type { CrmConnection, CrmConnectionStatus, NewRegistration, NewTokens } from './registry.js';
export { openSealedToken } from './sealed-token.js';
export { DEFAULT_REGISTRY_SCHEMA, DEFAULT_RETIRING_SECONDS } from './schema.js';
export { hashWebhookSecret } from './secret-hash.js';
export { RegistrySecretVerifier, anyOfVerifiers, createRegistrySecretVerifier } from './verifier.js';
export type { RegistrySecretVerifierOptions, RegistryVerifierStats } from './verifier.js';
export type {
  AuthCredentials,
  AuthFailureReason,
  AuthResult,
  AuthSubject,
  SecretVerifier,
} from './verifier-types.js';
export { REGISTRY_ERROR_CODES, RegistryError, isRegistryError } from './errors.js';
export type { RegistryErrorCode } from './errors.js';
export type {
  RegistrationStatus,
  StoredTokens,
  Tenant,
  TenantStatus,
  WebhookDefinition,
  WebhookRegistration,
} from './types.js';
