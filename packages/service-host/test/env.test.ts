import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  boolVar,
  brokersVar,
  createServiceLogger,
  deepFreeze,
  httpUrlVar,
  intVar,
  listVar,
  parseEnv,
  postgresUrlVar,
  readEnv,
} from '../src/index.js';

const schema = z.object({
  SVC_PORT: intVar(0, 65535).default(8000),
  SVC_ON: boolVar().default(false),
  SVC_LOOSE: boolVar({ aliases: true }).optional(),
  SVC_LIST: listVar().default([]),
  SVC_WORDS: listVar(/[\s,]+/).default([]),
  SVC_URL: httpUrlVar().default('http://localhost:1'),
  SVC_DB: postgresUrlVar().optional(),
  KAFKA_BROKERS: brokersVar().default(['127.0.0.1:1']),
});

function problems(env: NodeJS.ProcessEnv): string[] {
  const result = readEnv(schema, env);
  return result.ok ? [] : result.problems;
}

describe('readEnv and the variable helpers', () => {
  it('treats blank values as unset, so defaults apply', () => {
    const result = readEnv(schema, { SVC_PORT: '  ', SVC_ON: '', SVC_URL: ' ', KAFKA_BROKERS: '' });
    expect(result.ok && result.data).toEqual({
      SVC_PORT: 8000,
      SVC_ON: false,
      SVC_LIST: [],
      SVC_WORDS: [],
      SVC_URL: 'http://localhost:1',
      KAFKA_BROKERS: ['127.0.0.1:1'],
    });
    expect(result.present).toEqual({});
  });

  it('parses integers, booleans, lists and URLs', () => {
    const result = readEnv(schema, {
      SVC_PORT: ' 80 ',
      SVC_ON: 'true',
      SVC_LOOSE: 'yes',
      SVC_LIST: 'a, b,,c ',
      SVC_WORDS: 'x y,z',
      SVC_URL: 'https://example.com/api//',
      SVC_DB: 'postgresql://u@h/db',
      KAFKA_BROKERS: 'h1:9092, h2:9093',
    });
    expect(result.ok && result.data).toEqual({
      SVC_PORT: 80,
      SVC_ON: true,
      SVC_LOOSE: true,
      SVC_LIST: ['a', 'b', 'c'],
      SVC_WORDS: ['x', 'y', 'z'],
      SVC_URL: 'https://example.com/api',
      SVC_DB: 'postgresql://u@h/db',
      KAFKA_BROKERS: ['h1:9092', 'h2:9093'],
    });
  });

  it('names the variable in every problem', () => {
    expect(problems({ SVC_PORT: 'eighty' })).toEqual(['SVC_PORT: must be an integer']);
    expect(problems({ SVC_PORT: '70000' })[0]).toMatch(/^SVC_PORT: /);
    expect(problems({ SVC_ON: 'yes' })).toEqual(['SVC_ON: must be true or false']);
    expect(problems({ SVC_LOOSE: 'maybe' })[0]).toMatch(/^SVC_LOOSE: must be true or false/);
    expect(problems({ SVC_URL: 'ftp://x' })).toEqual(['SVC_URL: must be an http(s) URL']);
    expect(problems({ SVC_DB: 'mysql://x' })).toEqual(['SVC_DB: must be a postgres:// URL']);
    expect(problems({ KAFKA_BROKERS: 'nohost' })[0]).toMatch(/^KAFKA_BROKERS: each broker must be host:port/);
    expect(problems({ KAFKA_BROKERS: ' , ' })[0]).toMatch(/^KAFKA_BROKERS: needs at least one broker/);
    expect(problems({ SVC_PORT: 'x', SVC_ON: 'x' })).toHaveLength(2);
  });

  it('parseEnv also treats blank values as unset', () => {
    expect(parseEnv(schema, { SVC_PORT: ' ' }, 'svc').SVC_PORT).toBe(8000);
  });
});

describe('deepFreeze', () => {
  it('freezes nested objects and arrays', () => {
    const config = deepFreeze({ a: { b: [1, { c: 2 }] } });
    expect(Object.isFrozen(config.a)).toBe(true);
    expect(Object.isFrozen(config.a.b)).toBe(true);
    expect(Object.isFrozen(config.a.b[1])).toBe(true);
  });
});

describe('createServiceLogger', () => {
  it('names the service and censors the redaction paths', () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(chunk.toString());
        done();
      },
    });
    const logger = createServiceLogger(
      { service: 'svc', level: 'info', redactPaths: ['secret', '*.token'] },
      sink,
    );
    logger.info({ secret: 's3cr3t', nested: { token: 't0k3n' }, kept: 'yes' }, 'hello');
    const line = JSON.parse(lines[0] ?? '{}') as Record<string, unknown>;
    expect(line).toMatchObject({
      service: 'svc',
      secret: '[redacted]',
      nested: { token: '[redacted]' },
      kept: 'yes',
      msg: 'hello',
    });
  });
});
