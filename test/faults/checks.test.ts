import { describe, expect, it } from 'vitest';
import { simulateTraffic, type Delivery } from '@livechat-pipeline/traffic-simulator';
import { parseSpoolMetrics, spoolRecordCount } from './ingest-metrics.js';
import type { LedgerEntry, SimulatedChat } from './livechat-sender.js';
import { expectedChatEventIds, tagsDecidable } from './views-check.js';

const entry = (body: unknown): LedgerEntry => ({
  chatKey: 'c',
  format: 'v3',
  kind: 'incoming_event',
  emissionIndex: 0,
  eventId: 'e'.repeat(64),
  body: JSON.stringify(body),
  retry: 0,
  ackedAtMs: 1,
  latencyMs: 1,
});

describe('the ledger check', () => {
  it('derives the chat-event ids of an acknowledged body, whatever its secret (the ingest stores it redacted)', () => {
    const { deliveries } = simulateTraffic({ seed: 5, chats: 3, format: 'v3', secretKey: 'one-secret' });
    for (const d of deliveries) {
      const ids = expectedChatEventIds(entry(d.body));
      expect(ids.length).toBeGreaterThan(0);
      expect(expectedChatEventIds(entry({ ...d.body, secret_key: 'another-secret' }))).toEqual(ids);
    }
  });

  it('leaves out the tags of a v2 chat whose tag list returns to an earlier identical list, and only those', () => {
    const delivery = (emissionIndex: number, kind: string, tags: string[]) =>
      ({ emissionIndex, kind, format: 'v2', body: { event_type: kind, tags } }) as unknown as Delivery;
    const chat = (deliveries: Delivery[], format: 'v2' | 'v3' = 'v2') =>
      ({ format, deliveries }) as unknown as SimulatedChat;
    const a = delivery(1, 'chat_changed', ['x']);
    const b = delivery(2, 'chat_changed', ['x', 'y']);
    const aAgain = delivery(3, 'chat_changed', ['x']);
    const aRetried = delivery(1, 'chat_changed', ['x']);
    expect(tagsDecidable(chat([a, b, aAgain]))).toBe(false);
    expect(tagsDecidable(chat([a, aRetried, b]))).toBe(true);
    expect(tagsDecidable(chat([a, b, aAgain], 'v3'))).toBe(true);
  });

  it("reads the ingest's spool metrics, summed over labels, histogram buckets left out", () => {
    const metrics = parseSpoolMetrics(
      [
        '# HELP ingest_spool_records Records in the spool',
        'ingest_spool_records 12',
        'ingest_spool_bytes 3400',
        'ingest_spool_refused_total{reason="full"} 2',
        'ingest_spool_refused_total{reason="unavailable"} 1',
        'ingest_spool_commit_records_bucket{le="1"} 5',
        'ingest_http_requests_total{status="200"} 99',
      ].join('\n'),
    );
    expect(Object.fromEntries(metrics)).toEqual({
      ingest_spool_records: 12,
      ingest_spool_bytes: 3400,
      ingest_spool_refused_total: 3,
    });
    expect(spoolRecordCount(metrics)).toBe(12);
    expect(spoolRecordCount(new Map())).toBeUndefined();
  });
});
