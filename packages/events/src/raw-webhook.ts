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
] as const satisfies readonly (keyof RawWebhook)[];

let cached: LoadedSchema<GeneratedRawWebhook> | undefined;

/** The raw webhook Avro schema, loaded once from schemas/; its values are the generated `RawWebhook`. */
export function rawWebhookSchema(): LoadedSchema<GeneratedRawWebhook> {
  cached ??= loadAvroSchema(RAW_WEBHOOK_SCHEMA_PATH) as LoadedSchema<GeneratedRawWebhook>;
  return cached;
}
