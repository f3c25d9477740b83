import type { RawWebhook } from '@livechat-pipeline/events';
import { eventIdOf } from './event-id.js';
import { kafkaKeyOf } from './kafka-key.js';
import type { ResolvedTenant } from './tenant.js';
import type { ClassifiedWebhook, JsonObject } from './webhook.js';

export interface RequestFacts {
  readonly contentLength: number | null;
  readonly userAgent: string | null;
  readonly remoteAddress: string | null;
}

export interface RawRecordInput {
  readonly webhook: ClassifiedWebhook;
  /** The body after redaction: the only body that leaves the process. */
  readonly redactedBody: JsonObject;
  /** The delivery's one tenant (resolveTenant), whose credentials were checked. */
  readonly tenant: ResolvedTenant;
  readonly receivedAtMicros: number;
  readonly request: RequestFacts;
}

export interface KeyedRawRecord {
  readonly key: string;
  readonly value: RawWebhook;
  /** Kafka record headers: the trace context (`traceparent`) when tracing is on, else absent. */
  readonly headers?: Readonly<Record<string, string>>;
}

/** Builds the raw topic's record (Avro value + Kafka key) of an authenticated, redacted webhook. */
export function buildRawRecord(input: RawRecordInput): KeyedRawRecord {
  const { webhook, redactedBody } = input;
  const { tenant, source } = input.tenant;
  const eventId = eventIdOf(webhook, tenant, redactedBody);
  return {
    key: kafkaKeyOf(webhook, tenant, eventId),
    value: {
      event_id: eventId,
      received_at: input.receivedAtMicros,
      format: webhook.format,
      api_version: webhook.apiVersion,
      action: webhook.action,
      tenant,
      tenant_source: source,
      chat_id: webhook.chatId,
      thread_id: webhook.threadId,
      webhook_id: webhook.webhookId,
      body: JSON.stringify(redactedBody),
      content_length: input.request.contentLength,
      user_agent: input.request.userAgent,
      remote_address: input.request.remoteAddress,
    },
  };
}
