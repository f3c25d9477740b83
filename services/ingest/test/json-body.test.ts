import { describe, expect, it } from 'vitest';
import { parseJsonBody } from '../src/json-body.js';

const codeOf = (text: string): string | undefined => {
  try {
    parseJsonBody(text);
    return undefined;
  } catch (err) {
    return (err as { code?: string }).code;
  }
};

describe('parseJsonBody', () => {
  it('parses JSON', () => {
    expect(parseJsonBody('{"action":"a","constructor":"fine"}')).toEqual({
      action: 'a',
      constructor: 'fine',
    });
  });
  it('tells empty, malformed and poisoned bodies apart', () => {
    expect(codeOf('')).toBe('INGEST_EMPTY_BODY');
    expect(codeOf('{"a":')).toBe('INGEST_MALFORMED_JSON');
    expect(codeOf('{"a":{"__proto__":{"x":1}}}')).toBe('INGEST_PROTOTYPE_POISONING');
    expect(codeOf('{"a":[{"\\u005f_proto__":{}}]}')).toBe('INGEST_PROTOTYPE_POISONING');
    expect(codeOf('{"constructor":{"prototype":{"x":1}}}')).toBe('INGEST_PROTOTYPE_POISONING');
  });
  it('never echoes body text in the message', () => {
    try {
      parseJsonBody('{"secret_key": "CANARY-123" oops}');
    } catch (err) {
      expect((err as Error).message).not.toContain('CANARY');
    }
  });
});

describe('parseJsonBody bounds the shape before parsing', () => {
  const limits = { maxDepth: 8, maxNodes: 50 };
  const codeWith = (text: string): string | undefined => {
    try {
      parseJsonBody(text, limits);
      return undefined;
    } catch (err) {
      return (err as { code?: string }).code;
    }
  };

  it('refuses nesting deeper than the limit with INGEST_JSON_TOO_DEEP (also far deeper than the stack)', () => {
    expect(codeWith(`{"a":${'['.repeat(7)}${']'.repeat(7)}}`)).toBeUndefined();
    expect(codeWith(`{"a":${'['.repeat(8)}${']'.repeat(8)}}`)).toBe('INGEST_JSON_TOO_DEEP');
    expect(codeOf(`{"a":${'['.repeat(1_000_000)}${']'.repeat(1_000_000)}}`)).toBe('INGEST_JSON_TOO_DEEP');
    expect(codeOf(`${'{"a":'.repeat(100)}1${'}'.repeat(100)}`)).toBe('INGEST_JSON_TOO_DEEP');
  });

  it('refuses more values than the limit with INGEST_JSON_TOO_LARGE', () => {
    expect(codeWith(`[${Array(49).fill(0).join(',')}]`)).toBeUndefined();
    expect(codeWith(`[${Array(50).fill(0).join(',')}]`)).toBe('INGEST_JSON_TOO_LARGE');
    expect(codeWith(`{${Array.from({ length: 60 }, (_, i) => `"k${i}":{}`).join(',')}}`)).toBe(
      'INGEST_JSON_TOO_LARGE',
    );
    expect(codeOf(`[${Array(200_000).fill('[]').join(',')}]`)).toBe('INGEST_JSON_TOO_LARGE');
  });

  it('does not count brackets, commas or escaped quotes inside strings', () => {
    const s = JSON.stringify({
      text: '[[[[[[[[[[,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,\\"{{{{{{{{{{',
    });
    expect(parseJsonBody(s, limits)).toEqual(JSON.parse(s));
  });

  it('lets every fixture through the defaults', async () => {
    const { loadFixtures } = await import('./support/fixtures.js');
    for (const f of loadFixtures()) expect(parseJsonBody(JSON.stringify(f.body))).toEqual(f.body);
  });
});
