import type pg from 'pg';
import {
  ConfluentAvroSerde,
  SchemaRegistryClient,
  openChatEvent,
  openRawBody,
  readChatEvent,
  readRawWebhook,
  rawKeyScope,
  chatEventKeyScope,
} from '@livechat-pipeline/events';
import { PrivacyVault, parsePrivacyConfig, type ChatKeyState } from '@livechat-pipeline/privacy';
import { readTopic, stackEndpoints } from '@livechat-pipeline/testkit';

/** Where a canary was read, e.g. `raw 2:17 body` or `chat-events 0:5 opened`. */
export type Finding = string;

/** A vault on the stack's key store with the given keys (a fresh cache: what a new process would read). */
export function openVault(env: Record<string, string>, pool: pg.Pool): PrivacyVault {
  const config = parsePrivacyConfig(env);
  if (config === null) throw new Error('PRIVACY_KEYS is not set');
  return new PrivacyVault(pool, config);
}

const serde = (): ConfluentAvroSerde =>
  new ConfluentAvroSerde(new SchemaRegistryClient({ baseUrl: stackEndpoints().schemaRegistryUrl }));

const found = (text: string, canaries: readonly string[]): boolean => canaries.some((c) => text.includes(c));

/** JSON of a decoded record (Avro longs may be bigint). */
const json = (value: unknown): string =>
  JSON.stringify(value, (_key, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));

async function stateOf(
  vault: PrivacyVault,
  cache: Map<string, ChatKeyState>,
  tenant: string,
  scope: string,
): Promise<ChatKeyState> {
  const key = `${tenant}\u0000${scope}`;
  let state = cache.get(key);
  if (state === undefined) {
    state = (await vault.keysFor(tenant, [scope], { create: false })).get(scope)!;
    cache.set(key, state);
  }
  return state;
}

export interface TopicReading {
  readonly records: number;
  /** Records with a sealed envelope (raw: body sealed; chat events: personal values sealed). */
  readonly sealed: number;
  /** Records whose envelope is gone or whose key is erased. */
  readonly erased: number;
  /** Records opened with a live key. */
  readonly opened: number;
  /** Where a canary was read: the record's bytes, its decoded fields, or what its envelope opened to. */
  readonly findings: readonly Finding[];
}

/**
 * Every record of the raw topic: its bytes, the decoded record (body in clear when not sealed), and the body
 * opened with the keys the store still has. Any canary found anywhere is a finding.
 */
export async function readRawTopic(
  topic: string,
  vault: PrivacyVault,
  canaries: readonly string[],
): Promise<TopicReading> {
  const s = serde();
  const cache = new Map<string, ChatKeyState>();
  const findings: Finding[] = [];
  let sealed = 0;
  let erased = 0;
  let opened = 0;
  const records = await readTopic(topic);
  for (const r of records) {
    const where = `raw ${r.partition}:${r.offset}`;
    const bytes = r.value ?? Buffer.alloc(0);
    if (found(bytes.toString('latin1'), canaries) || found(bytes.toString('utf8'), canaries))
      findings.push(`${where} bytes`);
    if (r.key !== null && found(r.key.toString('utf8'), canaries)) findings.push(`${where} key`);
    const record = await readRawWebhook(s, bytes);
    if (found(json({ ...record, sealed: null }), canaries)) findings.push(`${where} decoded`);
    if (record.sealed === null || record.sealed === undefined) continue;
    sealed++;
    const scope =
      record.sealed.key_scope ??
      rawKeyScope({
        action: record.action ?? null,
        chatId: record.chat_id ?? null,
        eventId: record.event_id,
        body: {},
      });
    if (record.tenant === null) {
      findings.push(`${where} sealed without a tenant`);
      continue;
    }
    const state = await stateOf(vault, cache, record.tenant, scope!);
    const body = openRawBody(record, state);
    if ('erased' in body) erased++;
    else {
      opened++;
      if (found(body.body, canaries)) findings.push(`${where} opened body`);
    }
  }
  return { records: records.length, sealed, erased, opened, findings };
}

/** Every record of the chat-events topic: bytes, decoded clear fields, and the event opened with the remaining keys. */
export async function readChatEventsTopic(
  topic: string,
  vault: PrivacyVault,
  canaries: readonly string[],
): Promise<TopicReading & { readonly eventsByChat: ReadonlyMap<string, number> }> {
  const s = serde();
  const cache = new Map<string, ChatKeyState>();
  const findings: Finding[] = [];
  const eventsByChat = new Map<string, number>();
  let sealed = 0;
  let erased = 0;
  let opened = 0;
  const records = await readTopic(topic);
  for (const r of records) {
    const where = `chat-events ${r.partition}:${r.offset}`;
    const bytes = r.value ?? Buffer.alloc(0);
    if (found(bytes.toString('latin1'), canaries) || found(bytes.toString('utf8'), canaries))
      findings.push(`${where} bytes`);
    if (r.key !== null && found(r.key.toString('utf8'), canaries)) findings.push(`${where} key`);
    const event = await readChatEvent(s, bytes);
    const chatKey = `${event.tenant}/${event.chat_id ?? ''}`;
    eventsByChat.set(chatKey, (eventsByChat.get(chatKey) ?? 0) + 1);
    if (found(json({ ...event, sealed: null }), canaries)) findings.push(`${where} decoded`);
    if (event.sealed === null || event.sealed === undefined) continue;
    sealed++;
    const scope = event.sealed.key_scope ?? chatEventKeyScope(event);
    const state = await stateOf(vault, cache, event.tenant, scope!);
    const result = openChatEvent(event, state);
    if (result.outcome === 'opened') {
      opened++;
      if (found(json(result.event), canaries)) findings.push(`${where} opened`);
    } else if (result.outcome === 'erased') erased++;
    else findings.push(`${where} ${result.outcome}`);
  }
  return { records: records.length, sealed, erased, opened, findings, eventsByChat };
}

/** Any record of the topics (dead letters) whose bytes, key or headers hold a canary. */
export async function readTopicsBytes(
  topics: readonly string[],
  canaries: readonly string[],
): Promise<{ records: number; findings: Finding[] }> {
  const findings: Finding[] = [];
  let n = 0;
  for (const topic of topics) {
    let records: Awaited<ReturnType<typeof readTopic>>;
    try {
      records = await readTopic(topic, { timeoutMs: 5_000 });
    } catch (error) {
      // A dead-letter topic nobody created holds nothing.
      if (/does not host this topic-partition|UNKNOWN_TOPIC/i.test(String(error))) continue;
      throw error;
    }
    n += records.length;
    for (const r of records) {
      const texts = [
        r.value?.toString('latin1') ?? '',
        r.value?.toString('utf8') ?? '',
        r.key?.toString('utf8') ?? '',
        ...Object.values(r.headers ?? {}).map((h) => h?.toString() ?? ''),
      ];
      if (texts.some((t) => found(t, canaries))) findings.push(`${topic} ${r.partition}:${r.offset}`);
    }
  }
  return { records: n, findings };
}

/** The erased subjects whose rows a checksum leaves out. */
export interface ErasedSubjects {
  readonly chats: readonly string[];
  readonly customers: readonly string[];
}

/**
 * A checksum per table of the given schemas over the rows of everyone but the erased: rows whose `chat_id` is one
 * of `except.chats` or whose `customer_id` is one of `except.customers` are left out (every row of a table with
 * neither column counts), over every column but wall-clock bookkeeping (columns defaulting to now()). Tables whose
 * name starts with `_` (the consumer runtime's dedup and offsets) are left out.
 */
export async function rowChecksums(
  pool: pg.Pool,
  schemas: readonly string[],
  except: ErasedSubjects,
  options: { views?: boolean } = {},
): Promise<Record<string, string>> {
  const { rows: columns } = await pool.query<{
    table_schema: string;
    table_name: string;
    column_name: string;
    column_default: string | null;
  }>(
    `select c.table_schema, c.table_name, c.column_name, c.column_default
       from information_schema.columns c
       join information_schema.tables t using (table_schema, table_name)
      where c.table_schema = any($1) and t.table_type = any($2) and c.table_name not like '\\_%'
      order by c.table_schema, c.table_name, c.ordinal_position`,
    [schemas, options.views === true ? ['VIEW'] : ['BASE TABLE']],
  );
  const tables = new Map<string, string[]>();
  const filters = new Map<string, string[]>();
  for (const c of columns) {
    const key = `"${c.table_schema}"."${c.table_name}"`;
    if (c.column_name === 'chat_id')
      filters.set(key, [...(filters.get(key) ?? []), `(chat_id is null or chat_id <> all($1::text[]))`]);
    if (c.column_name === 'customer_id')
      filters.set(key, [
        ...(filters.get(key) ?? []),
        `(customer_id is null or customer_id <> all($2::text[]))`,
      ]);
    if (c.column_default !== null && /now\(\)|current_timestamp|clock_timestamp/i.test(c.column_default))
      continue;
    tables.set(key, [...(tables.get(key) ?? []), `"${c.column_name}"`]);
  }
  const out: Record<string, string> = {};
  for (const [table, cols] of tables) {
    // Both parameters are always referenced (Postgres refuses a bind of an unused one).
    const where = `where cardinality($1::text[]) >= 0 and cardinality($2::text[]) >= 0 ${(filters.get(table) ?? []).map((f) => `and ${f}`).join(' ')}`;
    const { rows } = await pool.query<{ md5: string; n: number }>(
      `select md5(coalesce(string_agg(r, '|' order by r), '')) as md5, count(*)::int as n
         from (select row(${cols.join(', ')})::text as r from ${table} ${where}) x`,
      [except.chats, except.customers],
    );
    out[table] = `${rows[0]!.n}:${rows[0]!.md5}`;
  }
  return out;
}
