import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { basicAuthHeader, fixture } from './support/fixtures.js';
import { readRawRecords, startTestIngest, topicRecordCount } from './support/harness.js';
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
  {
    name: 'text/plain body',
    status: 415,
    code: 'INGEST_UNSUPPORTED_MEDIA_TYPE',
    payload: JSON.stringify(v3),
    headers: { 'content-type': 'text/plain' },
  },
  {
    name: 'form body',
    status: 415,
    code: 'INGEST_UNSUPPORTED_MEDIA_TYPE',
    payload: 'a=1',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
  },
  {
    name: 'body over the limit',
    status: 413,
    code: 'INGEST_PAYLOAD_TOO_LARGE',
    payload: JSON.stringify({ ...v3, pad: 'x'.repeat(5000) }),
    headers: json,
  },
  {
    name: 'malformed JSON',
    status: 400,
    code: 'INGEST_MALFORMED_JSON',
    payload: '{"action": "incoming_event", ',
    headers: json,
  },
  { name: 'empty body', status: 400, code: 'INGEST_EMPTY_BODY', payload: '', headers: json },
  {
    name: '__proto__ key',
    status: 400,
    code: 'INGEST_PROTOTYPE_POISONING',
    payload: JSON.stringify(v3).replace('"payload":', '"__proto__":{"polluted":true},"payload":'),
    headers: json,
  },
  {
    name: 'constructor.prototype',
    status: 400,
    code: 'INGEST_PROTOTYPE_POISONING',
    payload: JSON.stringify(v3).replace('"payload":', '"constructor":{"prototype":{"x":1}},"payload":'),
    headers: json,
  },
  {
    name: 'bad tenant label',
    status: 400,
    code: 'INGEST_INVALID_TENANT_LABEL',
    payload: JSON.stringify(v3),
    headers: json,
    url: '/webhooks/livechat/%3Cscript%3E',
  },
  { name: 'a JSON array', status: 422, code: 'INGEST_UNRECOGNIZED_WEBHOOK', payload: '[1,2]', headers: json },
  {
    name: 'neither action nor event_type',
    status: 422,
    code: 'INGEST_UNRECOGNIZED_WEBHOOK',
    payload: '{"payload":{}}',
    headers: json,
  },
  {
    name: 'both action and event_type',
    status: 422,
    code: 'INGEST_UNRECOGNIZED_WEBHOOK',
    payload: JSON.stringify({ ...v3, event_type: 'chat_started' }),
    headers: json,
  },
  {
    name: 'v3 wrong secret_key',
    status: 401,
    code: 'INGEST_UNAUTHENTICATED',
    payload: JSON.stringify({ ...v3, secret_key: 'wrong' }),
    headers: json,
  },
  {
    name: 'v3 without secret_key',
    status: 401,
    code: 'INGEST_UNAUTHENTICATED',
    payload: JSON.stringify({ ...v3, secret_key: undefined }),
    headers: json,
  },
  {
    name: 'v2 without Authorization',
    status: 401,
    code: 'INGEST_UNAUTHENTICATED',
    payload: JSON.stringify(v2),
    headers: json,
  },
  {
    name: 'v2 wrong password',
    status: 401,
    code: 'INGEST_UNAUTHENTICATED',
    payload: JSON.stringify(v2),
    headers: { ...json, authorization: basicAuthHeader('livechat', 'nope') },
  },
  {
    name: 'v2 malformed Authorization',
    status: 401,
    code: 'INGEST_UNAUTHENTICATED',
    payload: JSON.stringify(v2),
    headers: { ...json, authorization: 'Bearer abc' },
  },
  {
    name: 'deep nesting',
    status: 400,
    code: 'INGEST_JSON_TOO_DEEP',
    payload: `{"action":"incoming_event","secret_key":"fixture-v3-secret","payload":${'['.repeat(1500)}${']'.repeat(1500)}}`,
    headers: json,
  },
  {
    name: 'too many values',
    status: 400,
    code: 'INGEST_JSON_TOO_LARGE',
    payload: `{"action":"incoming_event","secret_key":"fixture-v3-secret","payload":[${Array(1500).fill('0').join(',')}]}`,
    headers: json,
  },
  {
    name: 'licence id beyond 2^53',
    status: 422,
    code: 'INGEST_INVALID_TENANT_ID',
    payload: JSON.stringify({ ...v2, license_id: 2 ** 60 }),
    headers: { ...json, authorization: basicAuthHeader() },
  },
  {
    name: 'licence id 1e300',
    status: 422,
    code: 'INGEST_INVALID_TENANT_ID',
    payload: '{"action":"incoming_event","secret_key":"fixture-v3-secret","license_id":1e300,"payload":{}}',
    headers: json,
  },
  {
    name: 'organization_id not an id',
    status: 422,
    code: 'INGEST_INVALID_TENANT_ID',
    payload: JSON.stringify({ ...v3, organization_id: 'a|b' }),
    headers: json,
  },
  {
    name: 'path and body tenants differ',
    status: 401,
    code: 'INGEST_TENANT_MISMATCH',
    payload: JSON.stringify(v3),
    headers: json,
    url: '/webhooks/livechat/another-tenant',
  },
  {
    name: 'bad percent-encoding in the path',
    status: 400,
    code: 'INGEST_BAD_REQUEST',
    payload: JSON.stringify(v3),
    headers: json,
    url: '/webhooks/livechat/%E0%A4%A',
  },
  {
    name: 'tenant label of 129 characters',
    status: 400,
    code: 'INGEST_INVALID_TENANT_LABEL',
    payload: JSON.stringify(v3),
    headers: json,
    url: `/webhooks/livechat/${'a'.repeat(129)}`,
  },
  {
    name: 'tenant label of 5000 characters',
    status: 400,
    code: 'INGEST_INVALID_TENANT_LABEL',
    payload: JSON.stringify(v3),
    headers: json,
    url: `/webhooks/livechat/${'a'.repeat(5000)}`,
  },
  {
    name: 'unknown route',
    status: 404,
    code: 'INGEST_NOT_FOUND',
    payload: JSON.stringify(v3),
    headers: json,
    url: '/webhooks/other',
  },
];

describe('refused requests write nothing', () => {
  let ingest: TestIngest;
  beforeAll(async () => {
    // 1500 nested arrays fit into 4 KiB; without the depth guard they overflow the stack of a later walk (a 500).
    ingest = await startTestIngest({ INGEST_BODY_LIMIT_BYTES: '4096', INGEST_JSON_MAX_NODES: '1000' });
  });
  afterAll(async () => {
    await ingest.close();
  });

  it.each(cases)('$name → $status $code', async (c) => {
    const res = await ingest.app.inject({
      method: 'POST',
      url: c.url ?? '/webhooks/livechat',
      payload: c.payload,
      headers: c.headers ?? {},
    });
    expect(res.statusCode).toBe(c.status);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    const body = res.json<{ code: string; message: string }>();
    expect(body.code).toBe(c.code);
    expect(body.message.length).toBeGreaterThan(10);
  });

  it('counts authentication failures by reason', async () => {
    const metrics = { body: await (await fetch(`${ingest.operationsUrl}/metrics`)).text() };
    expect(metrics.body).toMatch(/ingest_auth_failures_total\{format="v3",reason="bad_credentials"\} 1/);
    expect(metrics.body).toMatch(/ingest_auth_failures_total\{format="v3",reason="missing_credentials"\} 1/);
    expect(metrics.body).toMatch(
      /ingest_auth_failures_total\{format="v2",reason="malformed_credentials"\} 1/,
    );
    expect(metrics.body).toMatch(
      /ingest_http_requests_total\{route="\/webhooks\/livechat",method="POST",status="401"\} 5/,
    );
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

describe('bounds with the default settings', () => {
  let ingest: TestIngest;
  beforeAll(async () => {
    ingest = await startTestIngest({ INGEST_LOG_LEVEL: 'debug' });
  });
  afterAll(async () => {
    await ingest.close();
  });

  it('the default body limit is 1 MiB: one byte more is 413, nothing written', async () => {
    const base = JSON.stringify({ ...v3, pad: '' });
    const pad = 1024 * 1024 + 1 - Buffer.byteLength(base);
    const payload = JSON.stringify({ ...v3, pad: 'x'.repeat(pad) });
    expect(Buffer.byteLength(payload)).toBe(1024 * 1024 + 1);
    const res = await ingest.app.inject({
      method: 'POST',
      url: '/webhooks/livechat',
      payload,
      headers: json,
    });
    expect(res.statusCode).toBe(413);
    expect(res.json<{ code: string }>().code).toBe('INGEST_PAYLOAD_TOO_LARGE');
    expect(await topicRecordCount(ingest.topic)).toBe(0);
  });

  it('a body under the limit whose ids would make the record too large for the topic: 422, or keyed by a hash', async () => {
    // Stored beside the 1 MiB body and as the Kafka key, a 400 KB chat_id made the record larger than the raw
    // topic's max.message.bytes: the broker refused it and the ingest answered a retryable 503, for ever.
    const longChat = {
      ...v3,
      payload: { ...(v3.payload as object), chat_id: 'c'.repeat(400_000) },
      pad: 'x'.repeat(500_000),
    };
    const res = await ingest.app.inject({
      method: 'POST',
      url: '/webhooks/livechat',
      payload: JSON.stringify(longChat),
      headers: json,
    });
    expect(res.statusCode).toBe(422);
    expect(res.json<{ code: string }>().code).toBe('INGEST_ID_TOO_LONG');
    const agent = {
      ...fixture('v3.6-agent_updated'),
      payload: { id: 'a'.repeat(400_000) },
      pad: 'x'.repeat(500_000),
    };
    const stored = await ingest.app.inject({
      method: 'POST',
      url: '/webhooks/livechat',
      payload: JSON.stringify(agent),
      headers: json,
    });
    expect(stored.statusCode).toBe(200);
    const [record] = await readRawRecords(ingest.topic, 1);
    expect(record?.key).toMatch(/\|agent:sha256:[0-9a-f]{64}$/);
    expect(await topicRecordCount(ingest.topic)).toBe(1);
  });

  it('a deeply nested body within the size limit is 400 INGEST_JSON_TOO_DEEP, not a retryable 500', async () => {
    const payload = `{"action":"incoming_event","secret_key":"fixture-v3-secret","organization_id":"org-1","payload":{"chat_id":"C","thread_id":"T","event":{"id":"E","x":${'['.repeat(200_000)}${']'.repeat(200_000)}}}}`;
    const res = await ingest.app.inject({
      method: 'POST',
      url: '/webhooks/livechat',
      payload,
      headers: json,
    });
    expect(res.statusCode).toBe(400);
    expect(res.json<{ code: string }>().code).toBe('INGEST_JSON_TOO_DEEP');
    expect(await topicRecordCount(ingest.topic)).toBe(1);
  });
});

describe('log lines stay short whatever the body holds', () => {
  let ingest: TestIngest;
  beforeAll(async () => {
    ingest = await startTestIngest({
      INGEST_BODY_LIMIT_BYTES: String(8 * 1024 * 1024),
      INGEST_LOG_LEVEL: 'debug',
    });
  });
  afterAll(async () => {
    await ingest.close();
  });

  it('a 4 MB organization_id is 422 INGEST_INVALID_TENANT_ID, stored nowhere, and no log line is long', async () => {
    const huge = 'o'.repeat(4 * 1024 * 1024);
    const send = (body: object, url = '/webhooks/livechat') =>
      ingest.app.inject({ method: 'POST', url, payload: JSON.stringify(body), headers: json });
    const res = await send({ ...v3, organization_id: huge });
    expect(res.statusCode).toBe(422);
    expect(res.json<{ code: string }>().code).toBe('INGEST_INVALID_TENANT_ID');
    // Other body fields that reach a log line: a long action (refused), a wrong secret, a tenant mismatch.
    expect((await send({ ...v3, action: huge })).statusCode).toBe(422);
    expect((await send({ ...v3, secret_key: huge })).statusCode).toBe(401);
    expect((await send({ ...v2, license_id: huge })).statusCode).toBe(422);
    expect((await send({ ...v3, organization_id: 'org-x' }, '/webhooks/livechat/org-y')).statusCode).toBe(
      401,
    );
    expect(await topicRecordCount(ingest.topic)).toBe(0);
    const lines = ingest.logs
      .join('')
      .split('\n')
      .filter((l) => l !== '');
    expect(lines.length).toBeGreaterThanOrEqual(5);
    const longest = Math.max(...lines.map((l) => l.length));
    expect(longest).toBeLessThan(1000);
  });
});
