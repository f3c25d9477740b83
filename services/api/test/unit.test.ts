import pg from 'pg';
import { describe, expect, it } from 'vitest';
import type { FastifyRequest } from 'fastify';
import { loadApiConfig } from '../src/config.js';
import { ApiConfigError, ApiError } from '../src/errors.js';
import { csvField, wantsCsv } from '../src/http/csv.js';
import { decodeCursor, encodeCursor, filtersDigest } from '../src/http/pagination.js';
import { rfc3339ToMicros } from '../src/http/schemas.js';
import { ApiKeyStore } from '../src/keys.js';

describe('configuration', () => {
  it('defaults to 127.0.0.1:8082 and operations on 8096', () => {
    const config = loadApiConfig({});
    expect(config.http).toEqual({ host: '127.0.0.1', port: 8082 });
    expect(config.operations).toEqual({ host: '127.0.0.1', port: 8096 });
    expect(config.database.schema).toBe('api');
  });

  it('names every bad variable in one error', () => {
    let error: unknown;
    try {
      loadApiConfig({ API_PORT: 'eighty', API_SCHEMA: 'Drop Table', API_POOL_SIZE: '0' });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ApiConfigError);
    const message = (error as Error).message;
    for (const name of ['API_PORT', 'API_SCHEMA', 'API_POOL_SIZE']) expect(message).toContain(name);
  });
});

describe('cursors', () => {
  const digest = filtersDigest({ tag: 'billing' });

  it('round-trips a position made for the same filters', () => {
    const cursor = encodeCursor([1_764_000_000_000_000, 'CHAT1'], digest);
    expect(cursor).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(decodeCursor(cursor, digest, ['number', 'string'])).toEqual([1_764_000_000_000_000, 'CHAT1']);
  });

  it('refuses one made for other filters, of another shape, or not a cursor at all', () => {
    const cursor = encodeCursor([1, 'CHAT1'], digest);
    const refused = (c: string, d = digest) => {
      try {
        decodeCursor(c, d, ['number', 'string']);
        return null;
      } catch (error) {
        return (error as ApiError).code;
      }
    };
    expect(refused(cursor, filtersDigest({ tag: 'sales' }))).toBe('API_BAD_CURSOR');
    expect(refused(encodeCursor(['1', 'CHAT1'], digest))).toBe('API_BAD_CURSOR');
    expect(refused(encodeCursor([1.5, 'CHAT1'], digest))).toBe('API_BAD_CURSOR');
    expect(refused('bm90IGpzb24')).toBe('API_BAD_CURSOR');
  });
});

describe('CSV', () => {
  it('quotes separators and quotes, joins arrays and defuses formulas', () => {
    expect(csvField('plain')).toBe('plain');
    expect(csvField('a,b')).toBe('"a,b"');
    expect(csvField('say "hi"')).toBe('"say ""hi"""');
    expect(csvField('line\nbreak')).toBe('"line\nbreak"');
    expect(csvField(['a', 'b'])).toBe('a;b');
    expect(csvField('=HYPERLINK("x")')).toBe(`"'=HYPERLINK(""x"")"`);
    expect(csvField(-3)).toBe('-3');
    expect(csvField(['=HYPERLINK("http://x")', 'b'])).toBe(`"'=HYPERLINK(""http://x"");b"`);
    expect(csvField(['ok', '@SUM(A1)'])).toBe(`ok;'@SUM(A1)`);
    expect(csvField(null)).toBe('');
  });

  it('answers CSV only when asked before JSON, and 406 when neither is acceptable', () => {
    const request = (accept?: string) =>
      ({ headers: accept === undefined ? {} : { accept } }) as FastifyRequest;
    expect(wantsCsv(request(), true)).toBe(false);
    expect(wantsCsv(request('text/csv'), true)).toBe(true);
    expect(wantsCsv(request('text/csv, application/json;q=0.5'), true)).toBe(true);
    expect(wantsCsv(request('application/json, text/csv'), true)).toBe(false);
    expect(wantsCsv(request('*/*'), true)).toBe(false);
    expect(() => wantsCsv(request('text/csv'), false)).toThrow(ApiError);
    expect(() => wantsCsv(request('text/html'), true)).toThrow(/Accept/);
  });
});

it('reads RFC 3339 times to epoch microseconds, offsets and fractions included', () => {
  expect(rfc3339ToMicros('2026-11-01T00:00:00Z')).toBe(Date.UTC(2026, 10, 1) * 1000);
  expect(rfc3339ToMicros('2026-11-01T01:00:00.123456+01:00')).toBe(Date.UTC(2026, 10, 1) * 1000 + 123_456);
  expect(rfc3339ToMicros('2026-11-01T00:00:00.5Z')).toBe(Date.UTC(2026, 10, 1) * 1000 + 500_000);
});

it('refuses a malformed key without asking Postgres (a flood of junk headers cannot hold the pool)', async () => {
  // a pool on a port where nothing listens: any query would reject
  const pool = new pg.Pool({
    connectionString: 'postgres://nobody:x@127.0.0.1:1/none',
    connectionTimeoutMillis: 500,
  });
  try {
    const keys = new ApiKeyStore(pool, 'api');
    for (const junk of ['', 'lcp_', 'Bearer', 'lcp_0123456789abcdef_short', 'x'.repeat(500)])
      expect(await keys.verify(junk)).toBeNull();
    await expect(keys.verify(`lcp_0123456789abcdef_${'A'.repeat(43)}`)).rejects.toThrow();
  } finally {
    await pool.end();
  }
});
