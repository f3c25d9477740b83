import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { INGEST_ERROR_CODES } from '../src/errors.js';

const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');

describe('README', () => {
  it('documents every error code with its status, and names no code that does not exist', () => {
    for (const [code, { status }] of Object.entries(INGEST_ERROR_CODES)) {
      const row = readme.split('\n').find((l) => new RegExp(`^\\|\\s*\`${code}\`\\s*\\|`).test(l));
      expect(row, code).toBeDefined();
      // Start-up failures are no HTTP answer (their row says —).
      if (!['INGEST_CONFIG_INVALID', 'INGEST_SPOOL_LOCKED', 'INGEST_SPOOL_TOPIC_MISMATCH'].includes(code))
        expect(row).toMatch(new RegExp(`\\|\\s*${status}\\s*\\|`));
    }
    const named = new Set(readme.match(/INGEST_[A-Z_]+[A-Z]/g) ?? []);
    // Environment variables are the names documented in the Configuration section's table.
    const configuration = readme.slice(
      readme.indexOf('## Configuration'),
      readme.indexOf('\n## ', readme.indexOf('## Configuration') + 1),
    );
    const envVars = new Set([...configuration.matchAll(/^\|\s*`(INGEST_[A-Z_]+)`\s*\|/gm)].map((m) => m[1]));
    expect(envVars.size).toBeGreaterThan(10);
    for (const name of named) {
      if (!envVars.has(name)) expect(Object.keys(INGEST_ERROR_CODES), name).toContain(name);
    }
  });
});
