import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { INGEST_ERROR_CODES } from '../src/errors.js';

const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');

describe('README', () => {
  it('documents every error code with its status, and names no code that does not exist', () => {
    for (const [code, { status }] of Object.entries(INGEST_ERROR_CODES)) {
      const row = readme.split('\n').find((l) => l.startsWith(`| \`${code}\` |`));
      expect(row, code).toBeDefined();
      if (code !== 'INGEST_CONFIG_INVALID') expect(row).toContain(`| ${status} |`);
    }
    const named = new Set(readme.match(/INGEST_[A-Z_]+[A-Z]/g) ?? []);
    const envVars = new Set(['INGEST_HOST', 'INGEST_PORT', 'INGEST_LOG_LEVEL', 'INGEST_BODY_LIMIT_BYTES', 'INGEST_REQUEST_DEADLINE_MS', 'INGEST_BATCH_LINGER_MS', 'INGEST_BATCH_MAX_RECORDS', 'INGEST_BATCH_MAX_BYTES', 'INGEST_SHUTDOWN_TIMEOUT_MS', 'INGEST_STARTUP_TIMEOUT_MS']);
    for (const name of named) {
      if (!envVars.has(name)) expect(Object.keys(INGEST_ERROR_CODES), name).toContain(name);
    }
  });
});
