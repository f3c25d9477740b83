import { readTopic } from '@livechat-pipeline/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { basicAuthHeader, fixture } from './support/fixtures.js';
import { decodeAll, startTestIngest } from './support/harness.js';
import type { TestIngest } from './support/harness.js';

// Planted values: none of them may appear in the topic's bytes or in any log line.
const V3_CANARY = 'CANARY-secret-key-7f3e9b';
const V2_TOKEN_CANARY = 'CANARY-v2-token-51a0c4';
const BASIC_PASSWORD_CANARY = 'CANARY-basic-pw-0d2e11';
const WRONG_KEY_CANARY = 'CANARY-wrong-key-99aa01';
const BODY_CANARY = 'CANARY-body-text-44b2';

describe('secrets never leave the process', () => {
  let ingest: TestIngest;
  beforeAll(async () => {
    ingest = await startTestIngest({
      LIVECHAT_SECRET_KEYS: `other-key,${V3_CANARY}`,
      LIVECHAT_BASIC_AUTH: `livechat:${BASIC_PASSWORD_CANARY}`,
    });
  });
  afterAll(async () => {
    await ingest.close();
  });

  it('redacts token and secret_key in the topic and keeps them out of the logs', async () => {
    const v3 = { ...fixture('v3.6-incoming_event-file'), secret_key: V3_CANARY };
    const v2 = { ...fixture('v2-chat_ended-supervisor-whisper'), token: V2_TOKEN_CANARY };
    const post = (body: object, headers: Record<string, string> = {}) =>
      ingest.app.inject({
        method: 'POST',
        url: '/webhooks/livechat',
        payload: JSON.stringify(body),
        headers: { 'content-type': 'application/json', ...headers },
      });

    expect((await post(v3)).statusCode).toBe(200);
    expect(
      (await post(v2, { authorization: basicAuthHeader('livechat', BASIC_PASSWORD_CANARY) })).statusCode,
    ).toBe(200);
    // Failures log too: make sure those lines are clean as well.
    expect((await post({ ...v3, secret_key: WRONG_KEY_CANARY })).statusCode).toBe(401);
    expect(
      (await post(v2, { authorization: basicAuthHeader('livechat', WRONG_KEY_CANARY) })).statusCode,
    ).toBe(401);
    expect(
      (await post({ ...v3, payload: { text: BODY_CANARY } }, { 'content-type': 'text/plain' })).statusCode,
    ).toBe(415);
    expect(
      (
        await ingest.app.inject({
          method: 'POST',
          url: '/webhooks/livechat',
          payload: `{"secret_key":"${WRONG_KEY_CANARY}", broken`,
          headers: { 'content-type': 'application/json' },
        })
      ).statusCode,
    ).toBe(400);

    const messages = await readTopic(ingest.topic, { count: 2, timeoutMs: 30_000 });
    expect(messages).toHaveLength(2);
    const rawBytes = Buffer.concat(
      messages.flatMap((m) => [m.key ?? Buffer.alloc(0), m.value ?? Buffer.alloc(0)]),
    ).toString('latin1');
    for (const canary of [V3_CANARY, V2_TOKEN_CANARY, BASIC_PASSWORD_CANARY])
      expect(rawBytes).not.toContain(canary);
    expect(rawBytes).toContain('[redacted]');

    const decoded = await decodeAll(messages);
    const bodies = decoded.map((d) => JSON.parse(d.value.body) as Record<string, unknown>);
    expect(bodies.find((b) => 'secret_key' in b)?.secret_key).toBe('[redacted]');
    expect(bodies.find((b) => 'token' in b)?.token).toBe('[redacted]');

    const logs = ingest.logs.join('');
    expect(logs).toContain('webhook stored');
    expect(logs).toContain('webhook authentication failed');
    for (const canary of [V3_CANARY, V2_TOKEN_CANARY, BASIC_PASSWORD_CANARY, WRONG_KEY_CANARY, BODY_CANARY]) {
      expect(logs).not.toContain(canary);
    }
    expect(logs).not.toMatch(/Basic [A-Za-z0-9+/=]{8,}/);
  });
});
