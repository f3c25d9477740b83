/**
 * Encode throughput: our ConfluentAvroSerde.encode (synchronous, one pass into a reused buffer) against
 * @kafkajs/confluent-schema-registry's SchemaRegistry.encode (async; avsc `toBuffer`, which encodes a value of
 * more than 1 KiB twice, then a second copy to add the header), both with the schema already cached, for raw
 * webhooks of a few body sizes. No registry is contacted.
 *
 *   pnpm --filter @livechat-pipeline/events exec tsx bench/encode.bench.ts [iterations]
 */
import { SchemaRegistry, SchemaType } from '@kafkajs/confluent-schema-registry';
import { ConfluentAvroSerde } from '../src/serde.js';
import { SchemaRegistryClient } from '../src/registry-client.js';
import { rawWebhookSchema } from '../src/raw-webhook.js';
import type { RawWebhook } from '../src/raw-webhook.js';
import type { RegisteredSchema } from '../src/serde.js';

const iterations = Number(process.argv[2] ?? 20_000);
const id = 4242;
const type = rawWebhookSchema().type;
const schema: RegisteredSchema = { subject: 'bench-value', id, type };
const ours = new ConfluentAvroSerde(new SchemaRegistryClient({ baseUrl: 'http://127.0.0.1:9' }));
const library = new SchemaRegistry({ host: 'http://127.0.0.1:9' });
library.cache.setSchema(id, SchemaType.AVRO, type);

const record = (body: string): RawWebhook => ({
  event_id: 'e'.repeat(64),
  received_at: 1_700_000_000_000_000,
  format: 'v3',
  api_version: '3.6',
  action: 'incoming_event',
  tenant: 'org-1',
  tenant_source: 'body',
  chat_id: 'C1',
  thread_id: 'T1',
  webhook_id: 'w1',
  body,
  content_length: body.length,
  user_agent: 'bench',
  remote_address: '127.0.0.1',
});

async function opsPerSecond(run: () => unknown): Promise<number> {
  for (let i = 0; i < 1_000; i++) await run(); // warm-up
  const start = process.hrtime.bigint();
  for (let i = 0; i < iterations; i++) await run();
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  return iterations / seconds;
}

for (const size of [200, 2_000, 20_000]) {
  const value = record('x'.repeat(size));
  const a = ours.encode(schema, value);
  const b = await library.encode(id, value);
  if (!a.equals(b)) throw new Error(`the two encodings differ for a body of ${size} bytes`);
  const oursOps = await opsPerSecond(() => ours.encode(schema, value));
  const libraryOps = await opsPerSecond(() => library.encode(id, value));
  process.stdout.write(
    `body ${String(size).padStart(6)} B: ours ${Math.round(oursOps).toLocaleString('en')} ops/s, ` +
      `@kafkajs/confluent-schema-registry ${Math.round(libraryOps).toLocaleString('en')} ops/s, ratio ${(oursOps / libraryOps).toFixed(2)}x\n`,
  );
}
