export { applyAnalyticsEvents, FACT_TABLES } from './facts/apply.js';
export { analyticsRowChanges } from './facts/rows.js';
export { loadAnalyticsConfig, type AnalyticsConfig } from './config.js';
export {
  analyticsConsumer,
  analyticsMigrationsDir,
  consumerOptions as analyticsConsumerOptions,
} from './consumer.js';
export { startAnalytics } from './start.js';
export { ChatEventOpener, openPrivacyVault, type ProjectionPrivacyConfig } from './privacy.js';
