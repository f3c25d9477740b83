import { startKafka, stopKafka, waitFor } from '@livechat-pipeline/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixture } from './support/fixtures.js';
import { postWebhook, readRawRecords, startTestIngest } from './support/harness.js';
import type { TestIngest } from './support/harness.js';

// Stops the shared broker: this file runs alone (its own file), and restarts the broker in afterAll.
// The spool is off here (INGEST_SPOOL_DIR unset): a webhook Kafka does not acknowledge in time gets 503. With the
// spool on it gets 200 once on disk instead (spool-outage.fault.int.test.ts), and 503 only when the spool is full.
const DEADLINE_MS = 2000;

// With one producer (the default) and with a pool (each producer must fail fast and recover on its own).
describe.each(['1', '3'])('Kafka outage with the spool off (INGEST_PRODUCERS=%s)', (producers) => {
  let ingest: TestIngest;
  let brokerStopped = false;
  beforeAll(async () => {
    ingest = await startTestIngest({
      INGEST_REQUEST_DEADLINE_MS: String(DEADLINE_MS),
      INGEST_PRODUCERS: producers,
    });
  });
  afterAll(async () => {
    if (brokerStopped) await startKafka();
    await ingest.close();
  });

  it('answers 503 with Retry-After within the deadline while the broker is down, and recovers without a restart', async () => {
    const body = (i: number) => {
      const f = fixture('v3.6-incoming_event-file') as { payload: { event: Record<string, unknown> } };
      return { ...f, payload: { ...f.payload, event: { ...f.payload.event, id: `outage-${i}` } } };
    };
    const before = await postWebhook(ingest, body(0));
    expect(before.statusCode).toBe(200);

    await stopKafka();
    brokerStopped = true;

    const started = performance.now();
    const during = await Promise.all(
      Array.from({ length: 10 }, (_, i) => postWebhook(ingest, body(100 + i))),
    );
    const elapsed = performance.now() - started;
    for (const res of during) {
      expect(res.statusCode).toBe(503);
      expect(res.headers['retry-after']).toBeDefined();
      expect(['INGEST_DEADLINE_EXCEEDED', 'INGEST_KAFKA_UNAVAILABLE']).toContain(
        res.json<{ code: string }>().code,
      );
    }
    expect(elapsed).toBeLessThan(DEADLINE_MS + 1000);

    // Readiness is cached for INGEST_READINESS_CACHE_MS (1 s): wait for a fresh answer.
    await waitFor(
      async () => ((await fetch(`${ingest.operationsUrl}/readyz`)).status === 503 ? true : undefined),
      {
        timeoutMs: 10_000,
        message: '/readyz answering 503 while the broker is down',
      },
    );

    await startKafka();
    brokerStopped = false;

    // The same ingest instance recovers: retry (as LiveChat would) until a delivery is stored.
    let attempt = 0;
    const recovered = await waitFor(
      async () => {
        const res = await postWebhook(ingest, body(200 + attempt++));
        if (res.statusCode === 200) return res;
        expect(res.statusCode).toBe(503); // never anything but 200 or 503
        return undefined;
      },
      { timeoutMs: 60_000, intervalMs: 200, message: 'ingest accepting again after the broker restart' },
    );
    const afterOk = await Promise.all(
      Array.from({ length: 5 }, (_, i) => postWebhook(ingest, body(300 + i))),
    );
    for (const res of afterOk) expect(res.statusCode).toBe(200);

    // Everything answered 200 is in the topic.
    const acknowledged = [before, recovered, ...afterOk].map((r) => r.json<{ event_id: string }>().event_id);
    const records = await readRawRecords(ingest.topic, acknowledged.length);
    const stored = new Set(records.map((r) => r.value.event_id));
    for (const id of acknowledged) expect(stored.has(id)).toBe(true);
  });
});
