import { describe, expect, it } from 'vitest';
import { simulateTraffic, type Delivery } from '@livechat-pipeline/traffic-simulator';
import { checkHubSpot, syncKey } from './hubspot-check.js';
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

  it('the HubSpot check: names a missing, a duplicated and an unexpected note, a wrong contact, a duplicated contact', () => {
    const chatOf = (chatId: string, email: string, format: 'v2' | 'v3' = 'v3') =>
      ({
        key: `${format}/t/${chatId}`,
        format,
        tenant: 't',
        chatId,
        expected: { threadId: `${chatId}-thread`, customerEmail: email },
      }) as unknown as SimulatedChat;
    const a = chatOf('A', 'Ann@example.com');
    const b = chatOf('B', 'bob@example.com', 'v2');
    const note = (key: string, contact: string) => ({
      properties: { hs_note_body: `<p>Sync key: ${key}</p><p>…</p>` },
      contactIds: [contact],
    });
    const contacts = [
      { id: '1', emailKey: 'ann@example.com' },
      { id: '2', emailKey: 'bob@example.com' },
    ];
    const calls = [{ method: 'POST', path: '/crm/v3/objects/notes', status: 201 }];
    const keyA = syncKey('t', 'A', 'A-thread');
    const keyB = syncKey('t', 'B', 'B'); // a v2 chat's thread is the chat
    const exact = checkHubSpot(
      { notes: [note(keyA, '1'), note(keyB, '2')], contacts, calls },
      [a, b],
      [a, b],
    );
    expect(exact.problems).toEqual([]);

    const broken = checkHubSpot(
      {
        notes: [note(keyA, '1'), note(keyA, '1'), note(syncKey('t', 'C', 'C'), '2')],
        contacts: [...contacts, { id: '3', emailKey: 'bob@example.com' }],
        calls,
      },
      [a, b],
      [a, b],
    );
    expect(broken.problems).toEqual([
      '1 closed chats without a HubSpot note',
      '1 threads with more than one HubSpot note (applied twice)',
      '1 HubSpot notes of no finished chat',
      '1 e-mails with more than one HubSpot contact',
    ]);
    const wrongContact = checkHubSpot(
      { notes: [note(keyA, '2'), note(keyB, '2')], contacts, calls },
      [a, b],
      [a, b],
    );
    expect(wrongContact.problems).toEqual(["1 notes not on the one contact of their customer's e-mail"]);
  });
});
