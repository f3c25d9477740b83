import { loadAvroSchema } from './schemas.js';
import type { LoadedSchema } from './schemas.js';
import type { RawWebhook as GeneratedRawWebhook } from './generated/raw-webhook.js';

/** The schemas/ path of the raw webhook envelope. */
export const RAW_WEBHOOK_SCHEMA_PATH = 'raw-webhook/raw-webhook.avsc';

export type WebhookFormat = 'v2' | 'v3';
export type TenantSource = 'body' | 'path' | 'none';

/** One value of the raw webhook topic (schemas/raw-webhook/raw-webhook.avsc). */
export interface RawWebhook {
  event_id: string;
  /** Microseconds since the epoch (Avro timestamp-micros; fits a JS number until year 2255). */
  received_at: number;
  format: WebhookFormat;
  api_version: string | null;
  action: string;
  tenant: string | null;
  tenant_source: TenantSource;
  chat_id: string | null;
  thread_id: string | null;
  webhook_id: string | null;
  /** The redacted request body as JSON text. */
  body: string;
  content_length: number | null;
  user_agent: string | null;
  remote_address: string | null;
  /**
   * Microseconds since the epoch when the ingest wrote the webhook to its on-disk spool because Kafka could not
   * acknowledge it in time (produced later by the spool's drainer); null for a direct write. Optional when
   * writing (the schema's default, null, applies); always present when read through `readRawWebhook`.
   */
  spooled_at?: number | null;
  /**
   * Set only on an archive record (a thread read from the Agent Chat API, see `buildArchiveRawWebhooks`); null or
   * left out for a webhook. Always present when read through `readRawWebhook` (null for records written before v2).
   */
  archive?: ArchiveSource | null;
  /**
   * Set when the body is sealed (issue 19, `sealRawBody`): `body` is then "" and the redacted body is in
   * `sealed.envelope` (null when the key scope was erased on arrival: the body was dropped). Null or left out for a
   * plain record; always present when read through `readRawWebhook` (null for records written before v3).
   */
  sealed?: SealedBody | null;
}

/** The `sealed` field of schemas/raw-webhook/raw-webhook.avsc: where the encrypted body is. */
export interface SealedBody {
  /** The key store's scope: the chat id, or customer:<id>, ticket:<id>, visitor:<id>, raw:<event_id>. */
  readonly key_scope: string;
  /** The data key's version (also in the envelope's header). */
  readonly key_version: number;
  /** `encryptBody(key, UTF-8 body)`; null when the scope was erased when the webhook arrived. */
  readonly envelope: Buffer | null;
}

/** Where an archive record was read (the `archive` field of schemas/raw-webhook/raw-webhook.avsc). */
export interface ArchiveSource {
  /** `list_archives` or `get_chat` (a string in the schema, so a later method stays readable). */
  readonly method: string;
  /** The opaque `page_id` the page was requested with; null for the first page of a walk and for `get_chat`. */
  readonly page_id: string | null;
  /** 1-based page number within the walk; null for `get_chat`. */
  readonly page_number: number | null;
  /** Microseconds since the epoch when the thread was read. */
  readonly read_at: number;
  /** 1-based part of a thread split over several records (see `buildArchiveRawWebhooks`). */
  readonly part: number;
  readonly parts: number;
}

/**
 * What a raw record is, for readers: `archive` when `archive` is set (its `format` then says `v3`, the structures of
 * its body), else the webhook `format`.
 */
export function rawRecordKind(raw: Pick<RawWebhook, 'format' | 'archive'>): WebhookFormat | 'archive' {
  return raw.archive === undefined || raw.archive === null ? raw.format : 'archive';
}

export const RAW_WEBHOOK_FIELDS = [
  'event_id',
  'received_at',
  'format',
  'api_version',
  'action',
  'tenant',
  'tenant_source',
  'chat_id',
  'thread_id',
  'webhook_id',
  'body',
  'content_length',
  'user_agent',
  'remote_address',
  'spooled_at',
  'archive',
  'sealed',
] as const satisfies readonly (keyof RawWebhook)[];

let cached: LoadedSchema<GeneratedRawWebhook> | undefined;

/** The raw webhook Avro schema, loaded once from schemas/; its values are the generated `RawWebhook`. */
export function rawWebhookSchema(): LoadedSchema<GeneratedRawWebhook> {
  cached ??= loadAvroSchema(RAW_WEBHOOK_SCHEMA_PATH) as LoadedSchema<GeneratedRawWebhook>;
  return cached;
}
