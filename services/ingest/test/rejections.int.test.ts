import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { basicAuthHeader, fixture } from './support/fixtures.js';
import { readRawRecords, startTestIngest } from './support/harness.js';
import type { TestIngest } from './support/harness.js';

interface Case {
  readonly name: string;
  readonly status: number;
  readonly code: string;
  readonly payload: string;
  readonly headers?: Record<string, string>;
  readonly url?: string;
}

const v3 = fixture('v3.6-incoming_event-file');
const v2 = fixture('v2-chat_started-no-survey');
const json = { 'content-type': 'application/json' };

const cases: Case[] = [
  { name: 'text/plain body', status: 415, code: 'INGEST_UNSUPPORTED_MEDIA_TYPE', payload: JSON.stringify(v3), headers: { 'content-type': 'text/plain' } },
  { name: 'form body', status: 415, code: 'INGEST_UNSUPPORTED_MEDIA_TYPE', payload: 'a=1', headers: { 'content-type': 'application/x-www-form-urlencoded' } },
  { name: 'body over the limit', status: 413, code: 'INGEST_PAYLOAD_TOO_LARGE', payload: JSON.stringify({ ...v3, pad: 'x'.repeat(5000) }), headers: json },
  { name: 'malformed JSON', status: 400, code: 'INGEST_MALFORMED_JSON', payload: '{"action": "incoming_event", ', headers: json },
  { name: 'empty body', status: 400, code: 'INGEST_EMPTY_BODY', payload: '', headers: json },
  { name: '__proto__ key', status: 400, code: 'INGEST_PROTOTYPE_POISONING', payload: JSON.stringify(v3).replace('"payload":', '"__proto__":{"polluted":true},"payload":'), headers: json },
  { name: 'constructor.prototype', status: 400, code: 'INGEST_PROTOTYPE_POISONING', payload: JSON.stringify(v3).replace('"payload":', '"constructor":{"prototype":{"x":1}},"payload":'), headers: json },
  { name: 'bad tenant label', status: 400, code: 'INGEST_INVALID_TENANT_LABEL', payload: JSON.stringify(v3), headers: json, url: '/webhooks/livechat/%3Cscript%3E' },
  { name: 'a JSON array', status: 422, code: 'INGEST_UNRECOGNIZED_WEBHOOK', payload: '[1,2]', headers: json },
  { name: 'neither action nor event_type', status: 422, code: 'INGEST_UNRECOGNIZED_WEBHOOK', payload: '{"payload":{}}', headers: json },
  { name: 'both action and event_type', status: 422, code: 'INGEST_UNRECOGNIZED_WEBHOOK', payload: JSON.stringify({ ...v3, event_type: 'chat_started' }), headers: json },
  { name: 'v3 wrong secret_key', status: 401, code: 'INGEST_UNAUTHENTICATED', payload: JSON.stringify({ ...v3, secret_key: 'wrong' }), headers: json },
  { name: 'v3 without secret_key', status: 401, code: 'INGEST_UNAUTHENTICATED', payload: JSON.stringify({ ...v3, secret_key: undefined }), headers: json },
  { name: 'v2 without Authorization', status: 401, code: 'INGEST_UNAUTHENTICATED', payload: JSON.stringify(v2), headers: json },
  { name: 'v2 wrong password', status: 401, code: 'INGEST_UNAUTHENTICATED', payload: JSON.stringify(v2), headers: { ...json, authorization: basicAuthHeader('livechat', 'nope') } },
  { name: 'v2 malformed Authorization', status: 401, code: 'INGEST_UNAUTHENTICATED', payload: JSON.stringify(v2), headers: { ...json, authorization: 'Bearer abc' } },
  { name: 'unknown route', status: 404, code: 'INGEST_NOT_FOUND', payload: JSON.stringify(v3), headers: json, url: '/webhooks/other' },
];

describe('refused requests write nothing', () => {
  let ingest: TestIngest;
  beforeAll(async () => {
    ingest = await startTestIngest({ INGEST_BODY_LIMIT_BYTES: '4096' });
  });
  afterAll(async () => {
    await ingest.close();
  });

  it.each(cases)('$name → $status $code', async (c) => {
    const res = await ingest.app.inject({ method: 'POST', url: c.url ?? '/webhooks/livechat', payload: c.payload, headers: c.headers ?? {} });
    expect(res.statusCode).toBe(c.status);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    const body = res.json<{ code: string; message: string }>();
    expect(body.code).toBe(c.code);
    expect(body.message.length).toBeGreaterThan(10);
  });

  it('counts authentication failures by reason', async () => {
    const metrics = await ingest.app.inject({ method: 'GET', url: '/metrics' });
    expect(metrics.body).toMatch(/ingest_auth_failures_total\{format="v3",reason="bad_credentials"\} 1/);
    expect(metrics.body).toMatch(/ingest_auth_failures_total\{format="v3",reason="missing_credentials"\} 1/);
    expect(metrics.body).toMatch(/ingest_auth_failures_total\{format="v2",reason="malformed_credentials"\} 1/);
    expect(metrics.body).toMatch(/ingest_http_requests_total\{route="\/webhooks\/livechat",method="POST",status="401"\} 5/);
  });

  it('after all of them, a sentinel is the only record of the topic', async () => {
    const sentinel = await ingest.app.inject({
      method: 'POST',
      url: '/webhooks/livechat',
      payload: JSON.stringify(fixture('v3.6-thread_summary_set')),
      headers: json,
    });
    expect(sentinel.statusCode).toBe(200);
    const records = await readRawRecords(ingest.topic, 1);
    expect(records).toHaveLength(1);
    expect(records[0]?.value.event_id).toBe(sentinel.json<{ event_id: string }>().event_id);
  });
});
