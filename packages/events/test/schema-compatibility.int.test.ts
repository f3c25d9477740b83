import { stackEndpoints, uniqueName } from '@livechat-pipeline/testkit';
import { describe, expect, it } from 'vitest';
import { SchemaRegistryClient } from '../src/registry-client.js';
import { schemaHistories } from './released-schemas.js';

// The registry's verdict on the schemas in the repo: every released/ version registered in order into a fresh
// subject set to BACKWARD_TRANSITIVE, then the current schema, which must be accepted. The negative cases prove
// the same steps reject a breaking change. schema-compatibility.test.ts asks avsc the same question offline.

interface RecordSchema {
  readonly type: 'record';
  readonly name: string;
  readonly fields: readonly { readonly name: string; readonly type: unknown; readonly default?: unknown }[];
}

const registry = () => new SchemaRegistryClient({ baseUrl: stackEndpoints().schemaRegistryUrl });
const withReleases = schemaHistories().filter((h) => h.released.length > 0);
const history = (path: string) => withReleases.find((h) => h.path === path)!;
const asRecord = (text: string) => JSON.parse(text) as RecordSchema;

/** A fresh BACKWARD_TRANSITIVE subject holding every released version of `path`, oldest first. */
async function subjectWithReleases(path: string): Promise<{ subject: string; client: SchemaRegistryClient }> {
  const client = registry();
  const subject = `${uniqueName(`compat-${path.split('/')[0]}`)}-value`;
  const [first, ...rest] = history(path).released;
  await client.register(subject, first!.schema.text);
  await client.setCompatibility(subject, 'BACKWARD_TRANSITIVE');
  for (const r of rest) await client.register(subject, r.schema.text);
  expect(await client.getCompatibility(subject)).toBe('BACKWARD_TRANSITIVE');
  return { subject, client };
}

function withFields(schema: RecordSchema, fields: RecordSchema['fields']): string {
  return JSON.stringify({ ...schema, fields });
}

describe('schema compatibility on the real registry (BACKWARD_TRANSITIVE)', () => {
  it('has released versions to check', () => {
    expect(withReleases.map((h) => h.path)).toEqual([
      'chat-events/chat-event.avsc',
      'raw-webhook/raw-webhook.avsc',
    ]);
  });

  it.each(withReleases.map((h) => [h.path]))(
    '%s: the current schema is accepted after all released versions',
    async (path) => {
      const { subject, client } = await subjectWithReleases(path);
      await expect(client.register(subject, history(path).current.text)).resolves.toBeTypeOf('number');
    },
  );

  it.each(withReleases.map((h) => [h.path]))(
    '%s: a new field without a default is rejected',
    async (path) => {
      const { subject, client } = await subjectWithReleases(path);
      const current = asRecord(history(path).current.text);
      const broken = withFields(current, [
        ...current.fields,
        { name: 'added_without_default', type: 'string' },
      ]);
      await expect(client.register(subject, broken)).rejects.toMatchObject({
        code: 'EVENTS_REGISTRY_REJECTED',
      });
    },
  );

  it('chat-event: a removed body branch is rejected', async () => {
    const path = 'chat-events/chat-event.avsc';
    const { subject, client } = await subjectWithReleases(path);
    const current = asRecord(history(path).current.text);
    const fields = current.fields.map((f) =>
      f.name === 'body'
        ? {
            ...f,
            type: (f.type as readonly { name: string }[]).filter((b) => b.name !== 'unrecognised_webhook'),
          }
        : f,
    );
    await expect(client.register(subject, withFields(current, fields))).rejects.toMatchObject({
      code: 'EVENTS_REGISTRY_REJECTED',
    });
  });

  it('chat-event: the allowed changes (a field with a default, a body branch at the end) are accepted', async () => {
    const path = 'chat-events/chat-event.avsc';
    const { subject, client } = await subjectWithReleases(path);
    const current = asRecord(history(path).current.text);
    const fields = current.fields.map((f) =>
      f.name === 'body'
        ? {
            ...f,
            type: [...(f.type as readonly unknown[]), { type: 'record', name: 'added_later', fields: [] }],
          }
        : f,
    );
    const evolved = withFields(current, [
      ...fields,
      { name: 'added_later', type: ['null', 'string'], default: null },
    ]);
    await expect(client.register(subject, evolved)).resolves.toBeTypeOf('number');
  });

  it('raw-webhook: the check is transitive — a change compatible with the latest version only is rejected', async () => {
    const path = 'raw-webhook/raw-webhook.avsc';
    const { subject, client } = await subjectWithReleases(path);
    const current = asRecord(history(path).current.text);
    // Latest: `note` (int) with a default. Next: `note` as a long without one — readable from the latest (int
    // promotes to long), not from the released versions before it (which lack `note`). BACKWARD accepts it (it
    // compares with the latest only); BACKWARD_TRANSITIVE rejects it. (Not just the default dropped: a default is not
    // part of the canonical form, so the registry would take that schema for the latest one.)
    const latest = withFields(current, [...current.fields, { name: 'note', type: 'int', default: 0 }]);
    const next = withFields(current, [...current.fields, { name: 'note', type: 'long' }]);
    await client.register(subject, latest);
    await expect(client.register(subject, next)).rejects.toMatchObject({ code: 'EVENTS_REGISTRY_REJECTED' });

    const backwardOnly = `${subject}-backward`;
    await client.register(backwardOnly, history(path).released[0]!.schema.text);
    await client.register(backwardOnly, latest);
    await client.setCompatibility(backwardOnly, 'BACKWARD');
    await expect(client.register(backwardOnly, next)).resolves.toBeTypeOf('number');
  });
});
