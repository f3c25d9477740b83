import { setTimeout as sleep } from 'node:timers/promises';
import type pg from 'pg';
import { parseWebhook } from '@livechat-pipeline/livechat';
import { ConfluentAvroSerde, SchemaRegistryClient, readRawWebhook } from '@livechat-pipeline/events';
import { readTopic } from '@livechat-pipeline/testkit';
import type { LedgerEntry, SimulatedChat } from './livechat-sender.js';

/**
 * The end check of a run: the ledger (every webhook answered 200) against what the transcripts projection holds.
 *
 * A webhook is "in the views" when every chat event it yields has been applied by the transcripts consumer: the
 * consumer records each applied event id in `<schema>._dedup` in the same transaction as its rows (and its
 * offsets), so the id is there exactly when the event's effect is in the views. The event ids are deterministic
 * functions of the body (the normalizer's parser, `@livechat-pipeline/livechat`), so the ledger alone says which
 * ids must be there.
 */

/** The chat-event ids one acknowledged webhook must yield (as the normalizer parses the redacted body). */
export function expectedChatEventIds(entry: LedgerEntry): string[] {
  const body = JSON.parse(entry.body) as Record<string, unknown>;
  // The ingest stores the body with its secrets redacted; the ids never depend on them, but parse what it stored.
  if ('secret_key' in body) body['secret_key'] = '[redacted]';
  if ('token' in body) body['token'] = '[redacted]';
  return parseWebhook(body, {
    rawEventId: entry.eventId,
    receivedAtMicros: entry.ackedAtMs * 1000,
    tenantHint: null,
    apiVersion: null,
  }).map((event) => event.event_id);
}

export interface ProjectionWait {
  /** Acknowledged webhooks with at least one chat event not applied by the deadline. */
  readonly missing: readonly { readonly entry: LedgerEntry; readonly missingEventIds: readonly string[] }[];
  readonly expectedEventIds: number;
  readonly waitedMs: number;
}

/**
 * Waits until every chat event of every acknowledged webhook is applied, or the deadline passes (then names what
 * is missing). Polls only the ids still missing.
 */
export async function waitForLedgerInViews(
  pool: pg.Pool,
  options: { schema: string; consumer: string; ledger: readonly LedgerEntry[]; timeoutMs: number },
): Promise<ProjectionWait> {
  const started = Date.now();
  const byId = new Map<string, LedgerEntry[]>();
  for (const entry of options.ledger)
    for (const id of expectedChatEventIds(entry)) byId.set(id, [...(byId.get(id) ?? []), entry]);
  const pending = new Set(byId.keys());
  const deadline = started + options.timeoutMs;
  for (;;) {
    const ids = [...pending];
    for (let i = 0; i < ids.length; i += 10_000) {
      const { rows } = await pool.query<{ event_id: string }>(
        `select event_id from "${options.schema}"._dedup where consumer = $1 and event_id = any($2::text[])`,
        [options.consumer, ids.slice(i, i + 10_000)],
      );
      for (const row of rows) pending.delete(row.event_id);
    }
    if (pending.size === 0 || Date.now() >= deadline) break;
    await sleep(500);
  }
  const missingByEntry = new Map<LedgerEntry, string[]>();
  for (const id of pending)
    for (const entry of byId.get(id) ?? [])
      missingByEntry.set(entry, [...(missingByEntry.get(entry) ?? []), id]);
  // A webhook acknowledged several times (LiveChat's duplicates) is one webhook missing, whichever copy.
  const seen = new Set<string>();
  const missing = [...missingByEntry]
    .filter(([entry]) => {
      const key = `${entry.chatKey}#${entry.emissionIndex}`;
      if (seen.has(key)) return false;
      seen.add(key);
      return true;
    })
    .map(([entry, missingEventIds]) => ({ entry, missingEventIds }));
  return { missing, expectedEventIds: byId.size, waitedMs: Date.now() - started };
}

/**
 * The `event_id`s on the raw topic, to say where a missing webhook was lost: never written to Kafka by the ingest
 * (lost on the way in, e.g. from its spool), or on the raw topic and lost by a consumer.
 */
export async function rawTopicEventIds(topic: string, registryUrl: string): Promise<Set<string>> {
  const serde = new ConfluentAvroSerde(new SchemaRegistryClient({ baseUrl: registryUrl }));
  const ids = new Set<string>();
  for (const record of await readTopic(topic, { timeoutMs: 120_000 }))
    if (record.value !== null) ids.add((await readRawWebhook(serde, record.value)).event_id);
  return ids;
}

interface TranscriptRow {
  tenant: string;
  chat_id: string;
  text: string;
  author_type: string;
  visibility: string;
  created_us: string;
}

interface SummaryRow {
  tenant: string;
  chat_id: string;
  tags: string[];
  customer_email: string | null;
  started_us: string;
}

/**
 * Whether a chat's final tag set can be decided from its deliveries. A v2 tag list (`chat_changed`, `chat_ended`)
 * that goes back to a list sent earlier has the very same body, so the same `event_id` (v2 webhooks without
 * `event_unique_id` are keyed by their body): the pipeline takes it for LiveChat's redelivery of the earlier one and
 * drops it, by design, with or without faults. Such a chat's tags are not compared.
 */
export function tagsDecidable(chat: SimulatedChat): boolean {
  if (chat.format !== 'v2') return true;
  const firstEmissionOf = new Map<string, number>();
  for (const d of chat.deliveries) {
    if (d.kind !== 'chat_changed' && d.kind !== 'chat_ended') continue;
    const body = JSON.stringify(d.body);
    const first = firstEmissionOf.get(body);
    if (first === undefined) firstEmissionOf.set(body, d.emissionIndex);
    else if (first !== d.emissionIndex) return false;
  }
  return true;
}

/**
 * Chats whose views differ from the simulator's expected facts (messages in order with author, visibility and
 * time; tags, customer e-mail and start): the same facts test/chain.e2e.test.ts checks. Returns one line per
 * differing chat, naming the first difference.
 */
export async function differingTranscripts(
  pool: pg.Pool,
  schema: string,
  chats: readonly SimulatedChat[],
): Promise<string[]> {
  if (chats.length === 0) return [];
  const tenants = [...new Set(chats.map((c) => c.tenant))];
  const chatIds = [...new Set(chats.map((c) => c.chatId))];
  const messages = await pool.query<TranscriptRow>(
    `select tenant, chat_id, text, author_type, visibility, created_us::text as created_us
     from "${schema}".chat_transcript
     where kind = 'message' and tenant = any($1::text[]) and chat_id = any($2::text[])
     order by tenant, chat_id, position`,
    [tenants, chatIds],
  );
  const summaries = await pool.query<SummaryRow>(
    `select tenant, chat_id, tags, customer_email,
            ((extract(epoch from started_at) * 1000000)::bigint)::text as started_us
     from "${schema}".chat_summary where tenant = any($1::text[]) and chat_id = any($2::text[])`,
    [tenants, chatIds],
  );
  const rowsOf = new Map<string, TranscriptRow[]>();
  for (const row of messages.rows) {
    const key = `${row.tenant}/${row.chat_id}`;
    rowsOf.set(key, [...(rowsOf.get(key) ?? []), row]);
  }
  const summaryOf = new Map(summaries.rows.map((r) => [`${r.tenant}/${r.chat_id}`, r]));
  const differing: string[] = [];
  for (const chat of chats) {
    const key = `${chat.tenant}/${chat.chatId}`;
    const problem = firstDifference(chat, rowsOf.get(key) ?? [], summaryOf.get(key));
    if (problem !== null) differing.push(`${chat.key}: ${problem}`);
  }
  return differing;
}

function firstDifference(
  chat: SimulatedChat,
  rows: readonly TranscriptRow[],
  summary: SummaryRow | undefined,
): string | null {
  const expected = chat.expected;
  const time = (m: (typeof expected.messages)[number]) =>
    chat.format === 'v3' ? micros(m.createdAt) : String(BigInt(m.createdAtEpochSeconds) * 1_000_000n);
  if (rows.length !== expected.messages.length)
    return `${rows.length} messages in chat_transcript, expected ${expected.messages.length}`;
  for (let i = 0; i < rows.length; i++) {
    const row = rows[i]!;
    const want = expected.messages[i]!;
    const got = [row.text, row.author_type, row.visibility, row.created_us];
    const wanted = [want.text, want.authorKind, want.visibility, time(want)];
    if (got.some((value, j) => value !== wanted[j]))
      return `message ${i + 1}: got ${JSON.stringify(got)}, expected ${JSON.stringify(wanted)}`;
  }
  if (summary === undefined) return 'no row in chat_summary';
  const started =
    chat.format === 'v3'
      ? micros(expected.startedAt)
      : String(BigInt(expected.startedAtEpochSeconds) * 1_000_000n);
  const tags = tagsDecidable(chat);
  const got = {
    tags: tags ? summary.tags : 'not compared',
    customer_email: summary.customer_email,
    started: summary.started_us,
  };
  const wanted = {
    tags: tags ? [...expected.tags] : 'not compared',
    customer_email: expected.customerEmail,
    started,
  };
  if (JSON.stringify(got) !== JSON.stringify(wanted))
    return `chat_summary ${JSON.stringify(got)}, expected ${JSON.stringify(wanted)}`;
  return null;
}

/** RFC 3339 with microseconds → epoch microseconds, exactly. */
function micros(rfc3339: string): string {
  const match = /\.(\d{6})Z$/.exec(rfc3339);
  const whole = BigInt(Date.parse(rfc3339.replace(/\.\d+Z$/, 'Z')));
  return String(whole * 1000n + BigInt(match?.[1] ?? '0'));
}
