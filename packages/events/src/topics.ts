/** Topic names of the pipeline. Services take the actual name from their config; these are the defaults. */
export const TOPICS = {
  /** Raw LiveChat webhook deliveries (Avro RawWebhook), the system of record. Kept forever. */
  rawWebhook: 'livechat.webhooks.raw',
  /** Typed domain events (Avro ChatEvent) written by the normalizer; keyed by tenant + chat id. */
  chatEvents: 'livechat.chat-events',
  /** Raw records the normalizer could not decode or parse, with provenance headers. */
  normalizerDeadLetters: 'livechat.webhooks.raw.dlq',
} as const;

export const rawWebhookTopic: string = TOPICS.rawWebhook;
export const chatEventsTopic: string = TOPICS.chatEvents;

/** The registry subject of a topic's values (TopicNameStrategy). */
export function valueSubject(topic: string): string {
  return `${topic}-value`;
}
