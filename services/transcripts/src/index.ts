export { applyTranscriptEvents } from './projection/apply.js';
export { transcriptRowChanges } from './projection/rows.js';
export { loadTranscriptsConfig, type TranscriptsConfig } from './config.js';
export {
  transcriptsConsumer,
  transcriptsMigrationsDir,
  consumerOptions as transcriptsConsumerOptions,
} from './consumer.js';
export { startTranscripts } from './start.js';
export { ChatEventOpener, openPrivacyVault, type ProjectionPrivacyConfig } from './privacy.js';
