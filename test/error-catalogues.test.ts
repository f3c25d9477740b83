import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { API_ERROR_CODES, DASHBOARD_ERROR_CODES } from '@livechat-pipeline/api';
import { APP_ERROR_CODES } from '@livechat-pipeline/app';
import { CRM_ERROR_CODES } from '@livechat-pipeline/crm-sync';
import { EVENTS_ERROR_CODES } from '@livechat-pipeline/events';
import { INGEST_ERROR_CODES } from '@livechat-pipeline/ingest';
import { LIVECHAT_PARSE_ERROR_CODES } from '@livechat-pipeline/livechat';
import { AGENT_API_ERROR_CODES } from '@livechat-pipeline/livechat-agent-api';
import { NORMALIZER_ERROR_CODES } from '@livechat-pipeline/normalizer';
import { CONSUMER_ERROR_CODES } from '@livechat-pipeline/postgres-consumer';
import { PRIVACY_ERROR_CODES } from '@livechat-pipeline/privacy';
import { PRIVACY_SERVICE_ERROR_CODES } from '@livechat-pipeline/privacy-service';
import { STARTUP_ERROR_CODES } from '@livechat-pipeline/service-host';
import { REGISTRY_ERROR_CODES } from '@livechat-pipeline/tenant-registry';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** Every package or service with an error catalogue: its README, the codes' prefix and the codes. */
const catalogues: { readonly readme: string; readonly prefix: string; readonly codes: readonly string[] }[] =
  [
    { readme: 'services/api/README.md', prefix: 'API_', codes: Object.keys(API_ERROR_CODES) },
    {
      readme: 'packages/livechat-agent-api/README.md',
      prefix: 'AGENT_API_',
      codes: Object.keys(AGENT_API_ERROR_CODES),
    },
    { readme: 'services/app/README.md', prefix: 'APP_', codes: Object.keys(APP_ERROR_CODES) },
    { readme: 'services/crm-sync/README.md', prefix: 'CRM_', codes: Object.keys(CRM_ERROR_CODES) },
    {
      readme: 'services/api/src/dashboard/README.md',
      prefix: 'DASHBOARD_',
      codes: Object.keys(DASHBOARD_ERROR_CODES),
    },
    { readme: 'packages/events/README.md', prefix: 'EVENTS_', codes: Object.keys(EVENTS_ERROR_CODES) },
    { readme: 'services/ingest/README.md', prefix: 'INGEST_', codes: Object.keys(INGEST_ERROR_CODES) },
    { readme: 'packages/livechat/README.md', prefix: 'LIVECHAT_', codes: [...LIVECHAT_PARSE_ERROR_CODES] },
    {
      readme: 'services/normalizer/README.md',
      prefix: 'NORMALIZER_',
      codes: Object.keys(NORMALIZER_ERROR_CODES),
    },
    {
      readme: 'packages/postgres-consumer/README.md',
      prefix: 'CONSUMER_',
      codes: Object.keys(CONSUMER_ERROR_CODES),
    },
    {
      readme: 'packages/privacy/README.md',
      prefix: 'PRIVACY_',
      codes: Object.keys(PRIVACY_ERROR_CODES),
    },
    {
      // the CLI's own codes (PRIVACY_CLI_*: the package's PRIVACY_* catalogue above is the key store's)
      readme: 'services/privacy/README.md',
      prefix: 'PRIVACY_CLI_',
      codes: Object.keys(PRIVACY_SERVICE_ERROR_CODES),
    },
    {
      readme: 'packages/service-host/README.md',
      prefix: 'SERVICE_',
      codes: Object.keys(STARTUP_ERROR_CODES),
    },
    {
      readme: 'packages/tenant-registry/README.md',
      prefix: 'REGISTRY_',
      codes: Object.keys(REGISTRY_ERROR_CODES),
    },
  ];

/** The first cells of every table whose header names a code: the codes a README documents. */
function documentedCodes(markdown: string): Set<string> {
  const codes = new Set<string>();
  let inCodeTable = false;
  for (const raw of markdown.split('\n')) {
    const line = raw.trimStart();
    if (!line.startsWith('|')) {
      inCodeTable = false;
      continue;
    }
    const cells = line.split('|').map((cell) => cell.trim());
    if (!inCodeTable && /\bcode\b/i.test(cells[1] ?? '') && !/^[-: ]+$/.test(cells[1] ?? '')) {
      inCodeTable = true;
      continue;
    }
    if (inCodeTable) {
      const first = (cells[1] ?? '').replaceAll('`', '');
      if (/^[A-Z][A-Z0-9_]+$/.test(first)) codes.add(first);
    }
  }
  return codes;
}

describe('error catalogues and their READMEs', () => {
  for (const { readme, prefix, codes } of catalogues) {
    it(`${readme} has a table of every ${prefix}* code and lists none that does not exist`, () => {
      const documented = documentedCodes(readFileSync(path.join(root, readme), 'utf8'));
      expect(codes.length).toBeGreaterThan(0);
      expect(codes.filter((code) => !documented.has(code))).toEqual([]);
      expect([...documented].filter((code) => code.startsWith(prefix) && !codes.includes(code))).toEqual([]);
    });
  }
});
