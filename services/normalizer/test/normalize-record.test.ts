import { describe, expect, it } from 'vitest';
import type { RawWebhook } from '@livechat-pipeline/events';
import { normalizeRawWebhook } from '../src/normalize-record.js';
import { NormalizerError } from '../src/errors.js';
import { loadNormalizerConfig } from '../src/config.js';

const org = 'f9c7cc55-b35a-4e76-b0d5-ae9fce362314';
const raw = (body: unknown): RawWebhook => ({
  event_id: 'raw-1',
  received_at: 1_795_600_000_000_000,
  format: 'v3',
  api_version: '3.4+',
  action: 'incoming_chat',
  tenant: org,
  tenant_source: 'body',
  chat_id: 'C',
  thread_id: 'T',
  webhook_id: 'wh',
  body: typeof body === 'string' ? body : JSON.stringify(body),
  content_length: null,
  user_agent: null,
  remote_address: null,
});
const chat = (events: number, extra: Record<string, unknown> = {}) => ({
  action: 'incoming_chat',
  organization_id: org,
  payload: {
    chat: {
      id: 'C',
      thread: {
        id: 'T',
        events: Array.from({ length: events }, (_, n) => ({ id: `E${n}`, type: 'message', text: `${n}` })),
      },
      ...extra,
    },
  },
});

function failure(record: RawWebhook, limits = loadNormalizerConfig({}).limits.parse): NormalizerError {
  try {
    normalizeRawWebhook(record, limits);
  } catch (error) {
    if (error instanceof NormalizerError) return error;
    throw error;
  }
  throw new Error('expected a NormalizerError');
}

describe('normalizeRawWebhook limits', () => {
  it('dead-letters a webhook over a parse limit as NORMALIZER_OVER_LIMIT, naming the limit', () => {
    const limits = { maxEvents: 5, maxThreads: 2, maxUsers: 2, maxDepth: 10 };
    const tooMany = failure(raw(chat(5)), limits);
    expect(tooMany).toMatchObject({ code: 'NORMALIZER_OVER_LIMIT', retryable: false });
    expect(tooMany.message).toContain('LIVECHAT_TOO_MANY_EVENTS');
    expect(failure(raw(chat(1, { users: [{}, {}, {}] })), limits).message).toContain(
      'LIVECHAT_TOO_MANY_USERS',
    );
    expect(
      failure(
        raw({ action: 'incoming_chat', organization_id: org, payload: { chat: { threads: [{}, {}, {}] } } }),
        limits,
      ).message,
    ).toContain('LIVECHAT_TOO_MANY_THREADS');
    expect(
      failure(
        raw(
          `{"action":"tag_created","organization_id":"${org}","payload":${'['.repeat(20)}${']'.repeat(20)}}`,
        ),
        limits,
      ).message,
    ).toContain('LIVECHAT_TOO_DEEP');
    expect(normalizeRawWebhook(raw(chat(4)), limits)).toHaveLength(5);
  });

  it("never maps a body under another tenant than the record's (the one the ingest authenticated)", () => {
    const forged = failure({ ...raw({ ...chat(1), organization_id: 'org-B' }), tenant: 'org-A' });
    expect(forged.code).toBe('NORMALIZER_TENANT_MISMATCH');
    const v2 = {
      event_type: 'chat_started',
      license_id: '1111111',
      organization_id: 'org-B',
      chat: { id: 'C', started_timestamp: 1 },
    };
    expect(failure({ ...raw(v2), format: 'v2', tenant: '1111111' }).code).toBe('NORMALIZER_TENANT_MISMATCH');
    // the record's own tenant, or a body that names none (the path label was the tenant), map as before
    expect(normalizeRawWebhook(raw(chat(1))).every((event) => event.tenant === org)).toBe(true);
    const { organization_id: _none, ...unnamed } = chat(1);
    expect(
      normalizeRawWebhook({ ...raw(unnamed), tenant: 'label-A', tenant_source: 'path' }).every(
        (e) => e.tenant === 'label-A',
      ),
    ).toBe(true);
  });

  it('keeps the refusals of malformed bodies as NORMALIZER_UNPARSABLE and NORMALIZER_BODY_NOT_JSON', () => {
    expect(failure(raw([1, 2])).code).toBe('NORMALIZER_UNPARSABLE');
    expect(failure(raw('{"action":')).code).toBe('NORMALIZER_BODY_NOT_JSON');
  });

  it('applies the default limits of the configuration (10,000 events)', () => {
    expect(failure(raw(chat(10_000))).code).toBe('NORMALIZER_OVER_LIMIT');
    expect(normalizeRawWebhook(raw(chat(9_999)), loadNormalizerConfig({}).limits.parse)).toHaveLength(10_000);
  });
});

describe('normalizeRawWebhook: an error the parser does not declare', () => {
  it('becomes NORMALIZER_PARSER_FAILED (a dead letter), not an exception that fails the batch', () => {
    // Limits far above what the configuration allows let the parser hit the stack limit of JSON.stringify:
    // a stand-in for any parser bug.
    const deep = `${'['.repeat(50_000)}${']'.repeat(50_000)}`;
    const error = failure(raw(`{"action":"tag_created","organization_id":"${org}","payload":${deep}}`), {
      maxEvents: 10,
      maxThreads: 10,
      maxUsers: 10,
      maxDepth: 1_000_000,
    });
    expect(error).toMatchObject({ code: 'NORMALIZER_PARSER_FAILED', retryable: false });
    expect(error.message).toContain('RangeError');
    expect(error.message).not.toContain('[[[');
  });
});
