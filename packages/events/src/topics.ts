/** Topic names of the pipeline. Services take the actual name from their config; these are the defaults. */
export const TOPICS = {
  /** Raw LiveChat webhook deliveries (Avro RawWebhook), the system of record. Kept forever. */
  rawWebhook: 'livechat.webhooks.raw',
} as const;

export const rawWebhookTopic: string = TOPICS.rawWebhook;

/** The registry subject of a topic's values (TopicNameStrategy). */
export function valueSubject(topic: string): string {
  return `${topic}-value`;
}
