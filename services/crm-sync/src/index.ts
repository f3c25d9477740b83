export { loadCrmSyncConfig, type CrmSyncConfig } from './config.js';
export { consumerOptions as crmConsumerOptions, crmConsumer, crmMigrationsDir } from './consumer.js';
export { CRM_ERROR_CODES, CrmSyncError, type CrmErrorCode } from './errors.js';
export {
  createCrmTenantRegistryPool,
  createOutboxPool,
  startCrmSync,
  type CrmSync,
  type CrmSyncStartOptions,
} from './start.js';
// The rebuild path opens sealed chat events as the service does (issue 19; used by test/privacy.e2e.test.ts).
export { ChatEventOpener as CrmChatEventOpener, openCrmPrivacyVault } from './privacy.js';
