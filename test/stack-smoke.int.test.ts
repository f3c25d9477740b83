import { describe, expect, it } from 'vitest';
import { SchemaRegistry, SchemaType } from '@kafkajs/confluent-schema-registry';
import pg from 'pg';
import {
  createTestDatabase,
  createTopic,
  readTopic,
  stackEndpoints,
  testKafka,
  uniqueName,
} from '@livechat-pipeline/testkit';

describe('the local stack', () => {
  it('carries an Avro record in the Confluent wire format through Kafka and the registry', async () => {
    const topic = uniqueName('smoke');
    await createTopic(topic, 1);
    const registry = new SchemaRegistry({ host: stackEndpoints().schemaRegistryUrl });
    const schema = {
      type: 'record',
      name: 'Smoke',
      namespace: 'dev.livechatpipeline.test',
      fields: [
        { name: 'id', type: 'string' },
        { name: 'count', type: 'int' },
      ],
    };
    const { id } = await registry.register(
      { type: SchemaType.AVRO, schema: JSON.stringify(schema) },
      { subject: `${topic}-value` },
    );
    const value = await registry.encode(id, { id: 'smoke-1', count: 42 });
    // Confluent wire format: magic byte 0, then the 4-byte big-endian schema id, then Avro.
    expect(value[0]).toBe(0);
    expect(value.readInt32BE(1)).toBe(id);

    const producer = testKafka('smoke').producer({ idempotent: true });
    await producer.connect();
    await producer.send({ topic, acks: -1, messages: [{ key: 'k', value }] });
    await producer.disconnect();

    const [message] = await readTopic(topic, { count: 1 });
    expect(message?.key?.toString()).toBe('k');
    expect(await registry.decode(message!.value!)).toEqual({ id: 'smoke-1', count: 42 });
  });

  it('rejects a schema change that breaks BACKWARD compatibility', async () => {
    const subject = `${uniqueName('compat')}-value`;
    const registry = new SchemaRegistry({ host: stackEndpoints().schemaRegistryUrl });
    const v1 = { type: 'record', name: 'C', fields: [{ name: 'a', type: 'string' }] };
    await registry.register({ type: SchemaType.AVRO, schema: JSON.stringify(v1) }, { subject });
    const response = await fetch(`${stackEndpoints().schemaRegistryUrl}/config/${subject}`, {
      method: 'PUT',
      headers: { 'content-type': 'application/vnd.schemaregistry.v1+json' },
      body: JSON.stringify({ compatibility: 'BACKWARD' }),
    });
    expect(response.ok).toBe(true);
    // A new required field without a default cannot read old records.
    const v2 = {
      type: 'record',
      name: 'C',
      fields: [
        { name: 'a', type: 'string' },
        { name: 'b', type: 'int' },
      ],
    };
    await expect(
      registry.register({ type: SchemaType.AVRO, schema: JSON.stringify(v2) }, { subject }),
    ).rejects.toThrow();
  });

  it('round-trips rows through Postgres in a database of its own', async () => {
    const db = await createTestDatabase('smoke');
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    try {
      await client.query('create table t (id int primary key, note text)');
      await client.query('insert into t values ($1, $2), ($3, $4)', [1, 'one', 2, 'zwei ✓']);
      const { rows } = await client.query('select id, note from t order by id');
      expect(rows).toEqual([
        { id: 1, note: 'one' },
        { id: 2, note: 'zwei ✓' },
      ]);
    } finally {
      await client.end();
      await db.drop();
    }
  });
});
