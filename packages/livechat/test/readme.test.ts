import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CHAT_EVENT_TYPES, LIVECHAT_PARSE_ERROR_CODES } from '../src/index.js';

const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');

describe('README', () => {
  it('documents every event type', () => {
    expect(CHAT_EVENT_TYPES.filter((type) => !readme.includes(`\`${type}\``))).toEqual([]);
  });

  it('documents every error code, and names no code that does not exist', () => {
    expect(LIVECHAT_PARSE_ERROR_CODES.filter((code) => !readme.includes(`\`${code}\``))).toEqual([]);
    // The error table's rows: `| \`LIVECHAT_…\` | when |`.
    const named = new Set([...readme.matchAll(/^\| `(LIVECHAT_[A-Z_]+)`/gm)].map((match) => match[1] ?? ''));
    expect(
      [...named].filter((code) => !(LIVECHAT_PARSE_ERROR_CODES as readonly string[]).includes(code)),
    ).toEqual([]);
  });
});
