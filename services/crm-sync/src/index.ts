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
export { ChatEventOpener as CrmChatEventOpener, openCrmPrivacyVault } from './privacy.js';
