export { loadNormalizerConfig, type NormalizerConfig } from './config.js';
export { startNormalizer, type RunningNormalizer } from './start.js';
export { RawWebhookNormalizer } from './normalizer.js';
export { normalizeRawWebhook, chatEventKey } from './normalize-record.js';
export { NormalizerError, NORMALIZER_ERROR_CODES, type NormalizerErrorCode } from './errors.js';
