export { PRIVACY_DEFAULTS, parsePrivacyConfig, parsePrivacyKeys } from './config.js';
export type { MasterKey, PrivacyConfig } from './config.js';
export {
  BODY_FIELD,
  ChatKey,
  ENVELOPE_OVERHEAD,
  ENVELOPE_VERSION,
  decryptBody,
  decryptField,
  encryptBody,
  encryptField,
  envelopeKeyVersion,
} from './envelope.js';
export { PRIVACY_ERROR_CODES, PrivacyError, isPrivacyError } from './errors.js';
export type { PrivacyErrorCode } from './errors.js';
export { KEK_DERIVATION_SALT, KeyRing } from './keyring.js';
export { LruCache } from './lru.js';
export { MIGRATIONS, migratePrivacy } from './migrations.js';
export { ERASE_STATEMENT_TIMEOUT_MS, MAX_CHATS_PER_CALL, PrivacyVault, requireKey } from './vault.js';
export type {
  ChatKeyState,
  CustomerLink,
  CustomerSubject,
  ErasureAuditEntry,
  ErasureRequest,
  ErasureResult,
  RewrapResult,
  VaultStats,
} from './vault.js';
export { openValues, sealValues } from './sealed-values.js';
export type { SealSpec, SealedValues } from './sealed-values.js';
export {
  PRIVACY_PROJECTIONS_DEFAULT,
  PROJECTION_NAMES,
  eraseProjections,
  parseProjectionList,
  runErasure,
  runRetentionErasure,
  sweepErasures,
} from './erasure.js';
export type {
  ErasureCommand,
  ErasureDeps,
  ErasureOutcome,
  ProjectionEraser,
  ProjectionName,
} from './erasure.js';
