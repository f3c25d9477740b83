import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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

/** Writes a LIVECHAT_TENANT_SECRETS_FILE with these tenants and returns its path. */
export function tenantsFile(
  tenants: Record<string, { secretKeys?: string[]; basicAuth?: string[] }>,
): string {
  const file = join(mkdtempSync(join(tmpdir(), 'ingest-tenants-')), 'tenants.json');
  writeFileSync(file, JSON.stringify({ tenants }));
  return file;
}
