import type { Resolver, Type } from 'avsc';
import { EventsError } from './errors.js';
import type { CompatibilityLevel, SchemaRegistryClient } from './registry-client.js';
import type { LoadedSchema } from './schemas.js';
import { HEADER_LENGTH, MAGIC_BYTE, unframe } from './wire-format.js';

export interface RegisteredSchema {
  readonly subject: string;
  readonly id: number;
  readonly type: Type;
}

export interface RegisterOptions {
  /** Compatibility level set on the subject after registering; default BACKWARD_TRANSITIVE. */
  readonly compatibility?: CompatibilityLevel;
}

export interface Decoded<T> {
  readonly schemaId: number;
  readonly value: T;
}

/**
 * Reads wire-format bytes into the values of one reader schema (the current one, from schemas/): the writer schema
 * is fetched by the id in the bytes, and Avro schema resolution turns its data into the reader's shape, so a
 * record written before a field was added comes back with that field at its default. Bytes whose writer schema
 * does not resolve to the reader's fail with EVENTS_DECODE_FAILED.
 */
export interface SchemaReader<T> {
  readonly schema: LoadedSchema<T>;
  /** The value in the reader schema's shape. */
  read(bytes: Buffer): Promise<T>;
  /** The value and the id of the schema it was written with. */
  readDecoded(bytes: Buffer): Promise<Decoded<T>>;
}

/**
 * Avro in the Confluent wire format through a schema registry. Registering and writer schemas by id go through
 * `@kafkajs/confluent-schema-registry` (its cache; concurrent misses for one id share one registry request). Ours
 * are the synchronous single-pass encode into a reused buffer (the library's `encode` is async and encodes twice
 * for values over 1 KiB: see bench/encode.bench.ts) and the typed readers with cached writer→reader resolvers.
 */
export class ConfluentAvroSerde {
  /** Resolvers per reader type, then per writer schema id (a reader type is one object per loaded schema). */
  private readonly resolvers = new WeakMap<Type, Map<number, Resolver>>();
  /**
   * Encoding goes through one reused buffer: avsc's `toBuffer` writes into a shared 1 KiB buffer and, when a
   * value does not fit (every webhook of more than about 1 KB), encodes it all a second time.
   */
  private scratch: Buffer = Buffer.allocUnsafe(64 * 1024);

  constructor(private readonly registry: SchemaRegistryClient) {}

  /** Registers the schema under `subject`, sets the subject's compatibility, and caches the id. */
  async register(
    subject: string,
    schema: LoadedSchema,
    options: RegisterOptions = {},
  ): Promise<RegisteredSchema> {
    const id = await this.registry.register(
      subject,
      schema.text,
      options.compatibility ?? 'BACKWARD_TRANSITIVE',
    );
    return Object.freeze({ subject, id, type: schema.type });
  }

  /** Encodes a value with a registered schema: magic byte, schema id, Avro body (one pass, one copy). */
  encode(schema: RegisteredSchema, value: unknown): Buffer {
    let end: number;
    try {
      end = schema.type.encode(value, this.scratch, HEADER_LENGTH);
      if (end < 0) {
        // Too small: avsc returns minus the missing byte count. Grow (at least double) and write once more.
        this.scratch = Buffer.allocUnsafe(Math.max(this.scratch.length * 2, this.scratch.length - end));
        end = schema.type.encode(value, this.scratch, HEADER_LENGTH);
      }
    } catch (cause) {
      throw new EventsError(
        'EVENTS_ENCODE_FAILED',
        `value does not match schema ${schema.id} of ${schema.subject}`,
        {
          cause,
          details: { subject: schema.subject, schemaId: schema.id },
        },
      );
    }
    const out = Buffer.allocUnsafe(end);
    out.writeUInt8(MAGIC_BYTE, 0);
    out.writeUInt32BE(schema.id, 1);
    this.scratch.copy(out, HEADER_LENGTH, HEADER_LENGTH, end);
    return out;
  }

  /**
   * A typed reader for `schema` (e.g. `serde.reader(chatEventSchema())`): decodes with the writer schema named
   * by the bytes' id, resolved to `schema`, and returns `schema`'s value type. Prefer it to `decode`.
   */
  reader<T>(schema: LoadedSchema<T>): SchemaReader<T> {
    const readDecoded = (bytes: Buffer): Promise<Decoded<T>> => this.decode<T>(bytes, schema.type);
    return Object.freeze({
      schema,
      readDecoded,
      read: async (bytes: Buffer) => (await readDecoded(bytes)).value,
    });
  }

  /**
   * Decodes wire-format bytes with the writer schema named by their id. With a `reader` type the value is
   * resolved into the reader's shape (schema evolution). Without one, `T` is an unchecked cast: use `reader()`.
   */
  async decode<T = unknown>(bytes: Buffer, reader?: Type): Promise<Decoded<T>> {
    const { schemaId, body } = unframe(bytes);
    const writer = await this.writerType(schemaId);
    try {
      if (reader === undefined || reader === writer) {
        return { schemaId, value: writer.fromBuffer(body) as T };
      }
      return { schemaId, value: reader.fromBuffer(body, this.resolver(schemaId, writer, reader)) as T };
    } catch (cause) {
      throw new EventsError(
        'EVENTS_DECODE_FAILED',
        `cannot decode Avro body written with schema ${schemaId}`,
        {
          cause,
          details: { schemaId },
        },
      );
    }
  }

  /** The writer type of a schema id (the library's cache; failures are not cached). */
  async writerType(schemaId: number): Promise<Type> {
    try {
      return await this.registry.writerType(schemaId);
    } catch (cause) {
      if (cause instanceof EventsError && cause.code !== 'EVENTS_REGISTRY_REJECTED') throw cause;
      throw new EventsError(
        'EVENTS_DECODE_FAILED',
        `registry schema ${schemaId} is not a valid Avro schema`,
        {
          cause,
          details: { schemaId },
        },
      );
    }
  }

  private resolver(schemaId: number, writer: Type, reader: Type): Resolver {
    let byWriter = this.resolvers.get(reader);
    if (byWriter === undefined) {
      byWriter = new Map();
      this.resolvers.set(reader, byWriter);
    }
    let resolver = byWriter.get(schemaId);
    if (resolver === undefined) {
      resolver = reader.createResolver(writer);
      byWriter.set(schemaId, resolver);
    }
    return resolver;
  }
}
