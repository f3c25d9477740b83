import { stackEndpoints, uniqueName } from '@livechat-pipeline/testkit';
import { describe, expect, it } from 'vitest';
import { rawWebhookSchema } from '../src/raw-webhook.js';
import { SchemaRegistryClient } from '../src/registry-client.js';
import { ConfluentAvroSerde } from '../src/serde.js';

const registry = () => new SchemaRegistryClient({ baseUrl: stackEndpoints().schemaRegistryUrl });

describe('SchemaRegistryClient (@kafkajs/confluent-schema-registry on Apicurio ccompat)', () => {
  it('a registry that does not answer is EVENTS_REGISTRY_UNAVAILABLE, retryable', async () => {
    const down = new SchemaRegistryClient({ baseUrl: 'http://127.0.0.1:9/apis/ccompat/v7', retries: 0 });
    const failure = { code: 'EVENTS_REGISTRY_UNAVAILABLE', retryable: true };
    await expect(
      down.register(`${uniqueName('down')}-value`, rawWebhookSchema().text, 'BACKWARD_TRANSITIVE'),
    ).rejects.toMatchObject(failure);
    await expect(down.writerType(1)).rejects.toMatchObject(failure);
  });

  it('an existing subject with another level is set to BACKWARD_TRANSITIVE when the serde registers', async () => {
    const subject = `${uniqueName('relevel')}-value`;
    const client = registry();
    const id = await client.register(subject, rawWebhookSchema().text);
    await client.setCompatibility(subject, 'NONE');
    const registered = await new ConfluentAvroSerde(registry()).register(subject, rawWebhookSchema());
    expect(registered.id).toBe(id);
    expect(await client.getCompatibility(subject)).toBe('BACKWARD_TRANSITIVE');
  });

  it('fetches a writer schema by id through the library, as the registered type', async () => {
    const subject = `${uniqueName('by-id')}-value`;
    const id = await registry().register(subject, rawWebhookSchema().text, 'BACKWARD_TRANSITIVE');
    const type = await registry().writerType(id);
    expect(type.equals(rawWebhookSchema().type)).toBe(true);
    await expect(registry().writerType(2_000_000_000)).rejects.toMatchObject({
      code: 'EVENTS_SCHEMA_NOT_FOUND',
      retryable: false,
    });
  });

  it('parses a writer schema once however many cold decodes ask for it at the same moment', async () => {
    const subject = `${uniqueName('by-id-once')}-value`;
    const id = await registry().register(subject, rawWebhookSchema().text, 'BACKWARD_TRANSITIVE');
    // A batch decoded at a cold start (a client that has not seen the id): every caller must get the one parsed
    // type, not a parse of its own (2,000 callers took 6 s that way).
    const cold = registry();
    const types = await Promise.all(Array.from({ length: 50 }, () => cold.writerType(id)));
    expect(new Set(types).size).toBe(1);
  });

  it('registers a schema without a name (the library refuses those) and reads it back by id', async () => {
    const subject = `${uniqueName('unnamed')}-value`;
    const id = await registry().register(subject, '"null"', 'BACKWARD_TRANSITIVE');
    expect((await registry().writerType(id)).typeName).toBe('null');
    expect(await registry().getCompatibility(subject)).toBe('BACKWARD_TRANSITIVE');
  });
});
