import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { NORMALIZER_ERROR_CODES } from '../src/errors.js';

const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
const configSource = readFileSync(new URL('../src/config.ts', import.meta.url), 'utf8');

describe('normalizer README', () => {
  it('documents every dead-letter code', () => {
    expect(Object.keys(NORMALIZER_ERROR_CODES).filter((code) => !readme.includes(`| \`${code}\``))).toEqual(
      [],
    );
  });

  it('documents every variable of its own configuration', () => {
    const variables = [...configSource.matchAll(/^\s+([A-Z][A-Z0-9_]+): /gm)].map((match) => match[1]!);
    expect(variables.length).toBeGreaterThan(10);
    expect(variables.filter((name) => !readme.includes(`\`${name}\``))).toEqual([]);
  });
});
