import { describe, expect, it } from 'vitest';
import { SchemaRegistry, SchemaType } from '@kafkajs/confluent-schema-registry';
import { loadStackSettings, stackDown, stackUp } from '@livechat-pipeline/local-stack';
import { createTopic, readTopic, stackEndpoints, testKafka, uniqueName } from '@livechat-pipeline/testkit';

describe('the local stack across a restart', () => {
  it('keeps registered schemas (same ids) and topic data after down and up', async () => {
    if (process.env['LOCAL_STACK_MANAGED'] !== '1') {
      throw new Error('this test restarts the native local stack; run it without KAFKA_BROKERS & co. set');
    }
    const topic = uniqueName('restart');
    const subject = `${topic}-value`;
    await createTopic(topic, 1);
    const registry = new SchemaRegistry({ host: stackEndpoints().schemaRegistryUrl });
    const schema = { type: 'record', name: 'Restart', fields: [{ name: 'n', type: 'long' }] };
    const { id } = await registry.register(
      { type: SchemaType.AVRO, schema: JSON.stringify(schema) },
      { subject },
    );
    const producer = testKafka('restart').producer({ idempotent: true });
    await producer.connect();
    await producer.send({
      topic,
      acks: -1,
      messages: [{ key: 'k', value: await registry.encode(id, { n: 7 }) }],
    });
    await producer.disconnect();

    const settings = loadStackSettings();
    const stopped = await stackDown(settings, {});
    expect(stopped).toEqual(['registry', 'kafka', 'postgres']);
    await stackUp(settings);

    const after = new SchemaRegistry({ host: stackEndpoints().schemaRegistryUrl });
    expect(await after.getLatestSchemaId(subject)).toBe(id);
    const [message] = await readTopic(topic, { count: 1 });
    expect(await after.decode(message!.value!)).toEqual({ n: 7 });
  });
});
