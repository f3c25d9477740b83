import type { IngestConfig } from '../../src/config.js';
import { loadIngestConfig } from '../../src/config.js';
import { FIXTURE_BASIC_PASSWORD, FIXTURE_BASIC_USER, FIXTURE_V3_SECRET } from './fixtures.js';

/** A valid config for tests: the fixture secrets plus the given variables. */
export function testConfig(env: NodeJS.ProcessEnv = {}): IngestConfig {
  return loadIngestConfig({
    LIVECHAT_SECRET_KEYS: FIXTURE_V3_SECRET,
    LIVECHAT_BASIC_AUTH: `${FIXTURE_BASIC_USER}:${FIXTURE_BASIC_PASSWORD}`,
    INGEST_LOG_LEVEL: 'info',
    ...env,
  });
}
