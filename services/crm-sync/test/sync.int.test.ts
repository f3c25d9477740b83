import { afterAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { randomFaultPlan, startFakeHubSpot, type FakeHubSpot } from '@livechat-pipeline/hubspot-fake';
import { createTestDatabase, waitFor, type TestDatabase } from '@livechat-pipeline/testkit';
import { simulateTraffic, type ExpectedChat } from '@livechat-pipeline/traffic-simulator';
import { escapeHtml, syncKey } from '../src/sync/note.js';
import { startCrmSync, type CrmSync } from '../src/start.js';
import { ORG, smallChat } from './support/chats.js';
import { allRowsText, captureLogs, chatEventsTopic, crmConfig, crmEnv, eventsOf } from './support/harness.js';

const TOKEN = 'pat-na1-CANARY-crm-sync-token';

let db: TestDatabase | undefined;
let pool: pg.Pool | undefined;
let fake: FakeHubSpot | undefined;
let crm: CrmSync | undefined;
afterAll(async () => {
  await crm?.stop();
  await fake?.close();
  await pool?.end();
  await db?.drop();
});

const tenantOf = (chat: ExpectedChat, format: 'v2' | 'v3') =>
  format === 'v3' ? chat.tenant.organizationId : chat.tenant.licenseId;

describe('crm-sync against the fake HubSpot with 429s, timeouts and 5xx switched on', () => {
  it('simulated traffic with duplicates and reordering: one contact per e-mail, one note per thread with the final transcript; a late tag updates the note', async () => {
    const v3 = simulateTraffic({ seed: 21, chats: 9, format: 'v3', duplicateRate: 0.3, reorderRate: 0.3 });
    const v2 = simulateTraffic({ seed: 22, chats: 5, format: 'v2', duplicateRate: 0.3, reorderRate: 0.3 });
    const threads = [
      ...v3.expected.map((chat) => ({ chat, tenant: tenantOf(chat, 'v3'), threadId: chat.threadId })),
      // v2 has no threads: the thread of a v2 chat is the chat
      ...v2.expected.map((chat) => ({ chat, tenant: tenantOf(chat, 'v2'), threadId: chat.chatId })),
    ];
    // Two more chats of the first customer (one with the e-mail in capitals): still one contact for the e-mail.
    const sameCustomer = [
      smallChat(50, { email: v3.expected[0]!.customerEmail }),
      smallChat(51, { email: v3.expected[0]!.customerEmail.toUpperCase() }),
    ];

    // HubSpot with a 1 s "ten-second" window of 12 calls (the client is allowed 20: it meets real 429s), and
    // faults drawn from a seed: late answers to note creates (the note is written, the client times out), 503
    // and 423 on contacts and note updates, and 429s of the ten-second policy anywhere.
    fake = await startFakeHubSpot({
      tokens: { [TOKEN]: 4242 },
      tenSecondlyLimit: 12,
      tenSecondlyWindowMs: 1_000,
    });
    fake.setFaultPlan(
      randomFaultPlan(
        [
          { target: 'notes-create', rate: 0.25, fault: { kind: 'answer-late', ms: 1_300 } },
          { target: 'contacts', rate: 0.15, fault: { kind: 'status', status: 503 } },
          { target: 'notes-update', rate: 0.15, fault: { kind: 'status', status: 423 } },
          { target: 'any', rate: 0.1, fault: { kind: 'rate-limit', policy: 'TEN_SECONDLY_ROLLING' } },
        ],
        7,
      ),
    );
    db = await createTestDatabase('crm_sync');
    pool = new pg.Pool({ connectionString: db.url, max: 2 });
    const { topic, publish } = await chatEventsTopic(3);
    const env = crmEnv(
      { databaseUrl: db.url, topic, apiUrl: fake.url, token: TOKEN },
      { HUBSPOT_BURST: '20', HUBSPOT_BURST_WINDOW_MS: '1000', HUBSPOT_RATE_LIMIT_WAIT_MS: '1000' },
    );
    const { lines, logger } = captureLogs('debug');
    const started = Date.now();
    crm = await startCrmSync(crmConfig(env), logger);
    await publish([
      ...eventsOf(v3.deliveries),
      ...eventsOf(v2.deliveries),
      ...eventsOf(sameCustomer.flatMap((c) => c.deliveries)),
    ]);

    const notesByKey = () => {
      const byKey = new Map<string, string[]>();
      for (const note of fake!.notes()) {
        const key = /lc-thread-[0-9a-f]{32}/.exec(note.properties['hs_note_body'] ?? '')?.[0] ?? 'none';
        byKey.set(key, [...(byKey.get(key) ?? []), note.properties['hs_note_body'] ?? '']);
      }
      return byKey;
    };
    const allDone = async () => {
      const { rows } = await pool!.query<{ n: string }>(
        `select count(*) filter (where status <> 'done')::text as n, count(*) as total from crm.outbox`,
      );
      return rows[0]!.n === '0';
    };
    await waitFor(
      async () =>
        threads.every((t) => notesByKey().has(syncKey(t.tenant, t.chat.chatId, t.threadId))) &&
        sameCustomer.every((c) => notesByKey().has(syncKey(ORG, c.chatId, c.threadId))) &&
        (await allDone()),
      { timeoutMs: 40_000, message: 'a note for every thread' },
    );
    const syncedInMs = Date.now() - started;

    // one contact per e-mail
    const emails = new Set(threads.map((t) => t.chat.customerEmail.toLowerCase()));
    expect(
      fake
        .contacts()
        .map((c) => c.emailKey)
        .sort(),
    ).toEqual([...emails].sort());
    // one note per thread, associated with its customer, showing the final transcript and tags
    const byKey = notesByKey();
    expect(fake.notes()).toHaveLength(threads.length + sameCustomer.length);
    const contactIdByEmail = new Map(fake.contacts().map((c) => [c.emailKey, c.id]));
    for (const t of threads) {
      const [body, ...more] = byKey.get(syncKey(t.tenant, t.chat.chatId, t.threadId))!;
      expect(more).toEqual([]);
      for (const m of t.chat.messages.filter((x) => x.visibility === 'all'))
        expect(body).toContain(escapeHtml(m.text).replace(/\r?\n/g, '<br>'));
      for (const m of t.chat.messages.filter((x) => x.visibility === 'agents'))
        expect(body).not.toContain(escapeHtml(m.text));
      expect(body).toContain(`Tags: ${t.chat.tags.length === 0 ? '—' : escapeHtml(t.chat.tags.join(', '))}`);
      const note = fake.notes().find((n) => n.properties['hs_note_body'] === body)!;
      expect(note.contactIds).toEqual([contactIdByEmail.get(t.chat.customerEmail.toLowerCase())]);
    }

    const firstContact = contactIdByEmail.get(v3.expected[0]!.customerEmail.toLowerCase());
    for (const c of sameCustomer) {
      const notes = fake
        .notes()
        .filter((n) => n.properties['hs_note_body']?.includes(syncKey(ORG, c.chatId, c.threadId)));
      expect(notes.map((n) => n.contactIds)).toEqual([[firstContact]]);
    }

    // The numbers of the run (the "Done when").
    const calls = fake.calls();
    const metrics = await crm.metricsRegistry.getSingleMetricAsString('crm_sync_close_to_note_seconds');
    const sum = Number(/_sum(?:\{[^}]*\})? ([\d.e+-]+)/.exec(metrics)?.[1]);
    const count = Number(/_count(?:\{[^}]*\})? (\d+)/.exec(metrics)?.[1]);
    const latency = await pool.query<{ median: number; max: number }>(
      `select percentile_cont(0.5) within group (order by s) as median, max(s) as max
       from (select extract(epoch from n.synced_at - o.created_at)::float8 as s
             from crm.notes n join crm.outbox o using (tenant, chat_id, thread_id)) x`,
    );
    const createAttempts = calls.filter(
      (c) => c.method === 'POST' && c.path === '/crm/v3/objects/notes',
    ).length;
    process.stdout.write(
      `crm-sync run: threads synced ${threads.length + sameCustomer.length} (${emails.size} contacts) in ${(syncedInMs / 1000).toFixed(1)} s; ` +
        `HubSpot calls ${calls.length} (note creates ${createAttempts}, late answers ${calls.filter((c) => c.fault === 'answer-late').length}); ` +
        `429s met ${calls.filter((c) => c.status === 429).length} (window ${calls.filter((c) => c.fault?.startsWith('limit:') === true).length}, injected ${calls.filter((c) => c.fault?.startsWith('rate-limit:') === true).length}); ` +
        `5xx/423 ${calls.filter((c) => c.status >= 500 || c.status === 423).length}; duplicates created ${fake.notes().length - threads.length - sameCustomer.length}; ` +
        `close to note mean ${(sum / count).toFixed(2)} s over ${count}, median ${latency.rows[0]!.median.toFixed(2)} s, max ${latency.rows[0]!.max.toFixed(2)} s\n`,
    );

    // A tag after the sync: the same note shows it, no second note.
    const late = threads[0]!;
    await publish(
      eventsOf([
        {
          emittedAt: Date.parse('2026-11-26T10:00:00Z') * 1000,
          body: {
            webhook_id: 'wh',
            action: 'thread_tagged',
            organization_id: late.tenant,
            payload: { chat_id: late.chat.chatId, thread_id: late.threadId, tag: 'late-tag<&>' },
            additional_data: {},
          },
        },
      ]),
    );
    await waitFor(
      () =>
        notesByKey()
          .get(syncKey(late.tenant, late.chat.chatId, late.threadId))?.[0]
          ?.includes('late-tag&lt;&amp;&gt;'),
      {
        timeoutMs: 20_000,
        message: 'the late tag on the note',
      },
    );
    expect(fake.notes()).toHaveLength(threads.length + sameCustomer.length);

    // No token in any log line or any column.
    expect(lines.length).toBeGreaterThan(0);
    expect(lines.filter((l) => l.includes('CANARY'))).toEqual([]);
    expect(await allRowsText(pool, 'crm')).not.toContain('CANARY');
  });
});
