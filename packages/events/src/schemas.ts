import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import avro from 'avsc';
import type { Schema, Type } from 'avsc';
import { EventsError } from './errors.js';

/**
 * The repository's `schemas/` folder, found from this file's location (packages/events/src → ../../../schemas),
 * never from the working directory.
 */
export const schemasDir: string = fileURLToPath(new URL('../../../schemas/', import.meta.url));

/**
 * A schema loaded from schemas/. `T` is the TypeScript type of its values (the generated type of the schema file,
 * e.g. `ChatEventAvro.ChatEvent` for `chatEventSchema()`); `unknown` when nobody declared one. It types what
 * `ConfluentAvroSerde.reader(schema)` returns.
 */
export interface LoadedSchema<T = unknown> {
  /** Phantom: never set at run time, it only carries `T`. */
  readonly valueType?: T;
  /** Path relative to schemas/, e.g. `raw-webhook/raw-webhook.avsc`. */
  readonly path: string;
  /** The parsed schema JSON. */
  readonly schema: Schema;
  /** The schema as canonical-enough JSON text, as registered. */
  readonly text: string;
  /** The avsc type for encoding and decoding. */
  readonly type: Type;
}

/** Loads and parses an `.avsc` file below schemas/ (e.g. `raw-webhook/raw-webhook.avsc`). */
export function loadAvroSchema(relativePath: string): LoadedSchema {
  const file = fileURLToPath(new URL(relativePath, new URL('../../../schemas/', import.meta.url)));
  let schema: Schema;
  try {
    schema = JSON.parse(readFileSync(file, 'utf8')) as Schema;
  } catch (cause) {
    throw new EventsError('EVENTS_SCHEMA_LOAD_FAILED', `cannot read Avro schema ${relativePath}`, {
      cause,
      details: { path: relativePath },
    });
  }
  let type: Type;
  try {
    type = avro.Type.forSchema(schema);
  } catch (cause) {
    throw new EventsError('EVENTS_SCHEMA_LOAD_FAILED', `invalid Avro schema ${relativePath}`, {
      cause,
      details: { path: relativePath },
    });
  }
  return Object.freeze({ path: relativePath, schema, text: JSON.stringify(schema), type });
}
