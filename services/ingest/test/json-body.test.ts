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
    expect(parseJsonBody('{"action":"a","constructor":"fine"}')).toEqual({ action: 'a', constructor: 'fine' });
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
