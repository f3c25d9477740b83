import avro from 'avsc';
import type { Schema } from 'avsc';
import { describe, expect, it } from 'vitest';
import { schemaHistories } from './released-schemas.js';

// The registry's BACKWARD_TRANSITIVE rule, checked with avsc alone: every schema version must read data written with
// every earlier one (the current schema reads all released versions; each release reads the releases before it).
// schema-compatibility.int.test.ts asks the real registry the same question.

const histories = schemaHistories();
const withReleases = histories.filter((h) => h.released.length > 0);

/** The symbols of an enum field's type. */
const symbolsOf = (type: unknown): string[] => [...(type as { symbols: readonly string[] }).symbols];

/**
 * Released versions that cannot read what the current schema writes, on purpose: a new union branch (a new chat-event
 * type) or a new enum symbol, which an old reader cannot resolve (the README's rule 2). Such a change ships readers
 * first: every consumer of the topic is deployed with the new schema before any writer uses the new branch. List
 * here, per schema file, each released version that cannot read it and the names it fails on; the check asserts
 * exactly that failure, so an entry that is no longer true fails too. Empty: every release reads the current schemas.
 */
const FORWARD_EXCEPTIONS: Readonly<
  Record<string, readonly { readonly version: number; readonly unreadable: readonly string[] }[]>
> = {};

interface RecordSchema {
  readonly type: 'record';
  readonly name: string;
  readonly fields: readonly { readonly name: string; readonly type: unknown }[];
}

describe('schemas stay readable across released versions (avsc resolver)', () => {
  it('knows the released schemas, numbered v1, v2, … without gaps', () => {
    expect(withReleases.map((h) => h.path)).toEqual([
      'chat-events/chat-event.avsc',
      'raw-webhook/raw-webhook.avsc',
    ]);
    for (const h of withReleases)
      expect(h.released.map((r) => r.version)).toEqual(h.released.map((_, i) => i + 1));
  });

  for (const h of withReleases) {
    const versions = [
      ...h.released.map((r) => ({ label: `v${r.version}`, type: r.schema.type })),
      { label: 'current', type: h.current.type },
    ];
    for (const [i, reader] of versions.entries()) {
      for (const writer of versions.slice(0, i)) {
        it(`${h.path}: ${reader.label} reads ${writer.label}`, () => {
          expect(() => reader.type.createResolver(writer.type)).not.toThrow();
          const sample = writer.type.random();
          expect(
            reader.type.isValid(
              reader.type.fromBuffer(writer.type.toBuffer(sample), reader.type.createResolver(writer.type)),
            ),
          ).toBe(true);
        });
      }
    }
  }

  // Forward: a reader still on a released version decodes what the current schema writes (it skips the new fields),
  // so readers and writers can roll in any order within a release. Decoding is all this proves: whether the old reader
  // can use the record is another matter (an old normalizer decodes a sealed raw record as body ""), and that is
  // why a change like `sealed` still deploys readers first (README, "Sealed records").
  for (const h of withReleases) {
    for (const r of h.released) {
      const exception = FORWARD_EXCEPTIONS[h.path]?.find((e) => e.version === r.version);
      if (exception !== undefined)
        it(`${h.path}: v${r.version} cannot read current, as listed in FORWARD_EXCEPTIONS`, () => {
          // The exception stays true to the schemas: each name listed is what the old reader cannot resolve.
          for (const name of exception.unreadable)
            expect(() => r.schema.type.createResolver(h.current.type)).toThrow(new RegExp(name));
        });
      else
        it(`${h.path}: v${r.version} reads current (forward)`, () => {
          const resolver = r.schema.type.createResolver(h.current.type);
          const sample = h.current.type.random();
          expect(
            r.schema.type.isValid(r.schema.type.fromBuffer(h.current.type.toBuffer(sample), resolver)),
          ).toBe(true);
        });
    }
  }

  // Negative cases: the same check must catch a breaking change.
  const latest = (path: string) => {
    const h = withReleases.find((x) => x.path === path)!;
    return {
      current: h.current.schema as unknown as RecordSchema,
      released: h.released.map((r) => r.schema.type),
    };
  };

  it('catches a new field without a default', () => {
    for (const h of withReleases) {
      const schema = h.current.schema as unknown as RecordSchema;
      const broken = avro.Type.forSchema({
        ...schema,
        fields: [...schema.fields, { name: 'added_without_default', type: 'string' }],
      } as unknown as Schema);
      for (const r of h.released)
        expect(() => broken.createResolver(r.schema.type)).toThrow(/added_without_default/);
    }
  });

  it('catches a removed body branch of chat-event', () => {
    const { current, released } = latest('chat-events/chat-event.avsc');
    const fields = current.fields.map((f) =>
      f.name === 'body'
        ? {
            ...f,
            type: (f.type as readonly { name: string }[]).filter((b) => b.name !== 'unrecognised_webhook'),
          }
        : f,
    );
    const broken = avro.Type.forSchema({ ...current, fields } as unknown as Schema);
    for (const r of released) expect(() => broken.createResolver(r)).toThrow(/unrecognised_webhook/);
  });

  it('catches a removed enum symbol of raw-webhook', () => {
    const { current, released } = latest('raw-webhook/raw-webhook.avsc');
    const fields = current.fields.map((f) =>
      f.name === 'tenant_source'
        ? { ...f, type: { type: 'enum', name: 'TenantSource', symbols: ['body', 'path'] } }
        : f,
    );
    const broken = avro.Type.forSchema({ ...current, fields } as unknown as Schema);
    for (const r of released) expect(() => broken.createResolver(r)).toThrow();
  });

  it('forward: a new body branch or enum symbol is caught (it needs readers first and a FORWARD_EXCEPTIONS entry)', () => {
    const { current, released } = latest('chat-events/chat-event.avsc');
    const withBranch = avro.Type.forSchema({
      ...current,
      fields: current.fields.map((f) =>
        f.name === 'body'
          ? {
              ...f,
              type: [...(f.type as readonly unknown[]), { type: 'record', name: 'added_later', fields: [] }],
            }
          : f,
      ),
    } as unknown as Schema);
    for (const r of released) expect(() => r.createResolver(withBranch)).toThrow(/added_later/);

    const raw = latest('raw-webhook/raw-webhook.avsc');
    const withSymbol = avro.Type.forSchema({
      ...raw.current,
      fields: raw.current.fields.map((f) =>
        f.name === 'tenant_source'
          ? {
              ...f,
              type: { type: 'enum', name: 'TenantSource', symbols: [...symbolsOf(f.type), 'added_later'] },
            }
          : f,
      ),
    } as unknown as Schema);
    for (const r of raw.released) expect(() => r.createResolver(withSymbol)).toThrow();
  });

  it('forward: a field added with a default is read by every release (no exception needed)', () => {
    for (const h of withReleases) {
      const schema = h.current.schema as unknown as RecordSchema;
      const grown = avro.Type.forSchema({
        ...schema,
        fields: [...schema.fields, { name: 'added_later', type: ['null', 'string'], default: null }],
      } as unknown as Schema);
      for (const r of h.released) expect(() => r.schema.type.createResolver(grown)).not.toThrow();
    }
  });

  it('accepts the allowed changes: a field with a default, a body branch at the end', () => {
    const { current, released } = latest('chat-events/chat-event.avsc');
    const fields = current.fields.map((f) =>
      f.name === 'body'
        ? {
            ...f,
            type: [...(f.type as readonly unknown[]), { type: 'record', name: 'added_later', fields: [] }],
          }
        : f,
    );
    const evolved = avro.Type.forSchema({
      ...current,
      fields: [...fields, { name: 'added_later', type: ['null', 'string'], default: null }],
    } as unknown as Schema);
    for (const r of released) expect(() => evolved.createResolver(r)).not.toThrow();
  });
});
