import { COMPATIBILITY, SchemaRegistry, SchemaType } from '@kafkajs/confluent-schema-registry';
import type { Type } from 'avsc';
import { EventsError } from './errors.js';

export type CompatibilityLevel = keyof typeof COMPATIBILITY;

export interface SchemaRegistryClientOptions {
  /** Base URL of the Confluent-compatible API, e.g. `http://127.0.0.1:58081/apis/ccompat/v7`. */
  readonly baseUrl: string;
  /** Per-request timeout; default 5000 ms. */
  readonly timeoutMs?: number;
  /** Retries of a failed registry request (5xx or no answer) inside the library; default 2. */
  readonly retries?: number;
}

type LibraryMiddleware = NonNullable<ConstructorParameters<typeof SchemaRegistry>[0]['middlewares']>[number];

const CONTENT_TYPE = 'application/vnd.schemaregistry.v1+json';
/** mappersmith reports a request that got no answer (refused, reset, timed out) as status 400 with this text. */
const NO_ANSWER =
  /ECONNREFUSED|ECONNRESET|ETIMEDOUT|EHOSTUNREACH|ENOTFOUND|EAI_AGAIN|socket hang up|timeout/i;

/**
 * Registry access through `@kafkajs/confluent-schema-registry` (the design's registry client; it also speaks to
 * Apicurio Registry under `/apis/ccompat/v7`): registering with a compatibility level, writer schemas by id
 * (cached; concurrent misses share one request). What the library does not offer stays here, on plain HTTP:
 * reading and changing the compatibility of a subject that already exists, and an uncached look-up by id used as
 * a readiness probe. Errors are EventsError with the events catalogue's codes.
 */
export class SchemaRegistryClient {
  readonly baseUrl: string;
  /** The library client (its cache holds the writer schemas by id). */
  readonly library: SchemaRegistry;
  private readonly timeoutMs: number;
  /** Writer types by global id (schemas under an id never change), in flight or parsed. */
  private readonly writerTypes = new Map<number, Promise<Type>>();

  constructor(options: SchemaRegistryClientOptions) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
    this.timeoutMs = options.timeoutMs ?? 5000;
    const timeout: LibraryMiddleware = () => ({
      request: (request) => request.enhance({ timeout: this.timeoutMs }),
    });
    this.library = new SchemaRegistry({
      host: this.baseUrl,
      clientId: 'livechat-pipeline',
      retry: { retries: options.retries ?? 2, maxRetryTimeInSecs: 2 },
      middlewares: [timeout],
    });
  }

  /**
   * Registers (or finds) an Avro schema under a subject and returns its global id. With `compatibility`, a new
   * subject gets that level right after its first version, and an existing subject with another level is set to it
   * first. Without, the subject's level is left as it is.
   */
  async register(subject: string, schemaText: string, compatibility?: CompatibilityLevel): Promise<number> {
    const schema = { type: SchemaType.AVRO, schema: schemaText } as const;
    try {
      if (compatibility === undefined) {
        if (!isNamedSchema(schemaText)) return await this.registerUnnamed(subject, schemaText, undefined);
        // The library refuses to register unless the subject's level equals the one it is given: give it the current one.
        const current = await this.getCompatibility(subject);
        const level = current === undefined ? undefined : COMPATIBILITY[current as CompatibilityLevel];
        return (
          await this.library.register(schema, {
            subject,
            updateConfig: false,
            ...(level === undefined ? {} : { compatibility: level }),
          })
        ).id;
      }
      if (!isNamedSchema(schemaText)) return await this.registerUnnamed(subject, schemaText, compatibility);
      const options = { subject, compatibility: COMPATIBILITY[compatibility] };
      try {
        return (await this.library.register(schema, options)).id;
      } catch (err) {
        if (!(err instanceof Error) || err.name !== 'ConfluentSchemaRegistryCompatibilityError') throw err;
        await this.setCompatibility(subject, compatibility);
        return (await this.library.register(schema, options)).id;
      }
    } catch (err) {
      throw toEventsError(err, `register(${subject})`, { subject });
    }
  }

  /**
   * The library refuses schemas without a name (a primitive such as `"null"`, valid Avro that a foreign writer may
   * register): those are registered on plain HTTP, as before the library.
   */
  private async registerUnnamed(
    subject: string,
    schemaText: string,
    compatibility: CompatibilityLevel | undefined,
  ): Promise<number> {
    const body = await this.request('POST', `/subjects/${encodeURIComponent(subject)}/versions`, {
      schema: schemaText,
      schemaType: 'AVRO',
    });
    const id = typeof body === 'object' && body !== null ? (body as { id?: unknown }).id : undefined;
    if (typeof id !== 'number') {
      throw new EventsError(
        'EVENTS_REGISTRY_REJECTED',
        `registry answered register(${subject}) without an id`,
        { details: { subject } },
      );
    }
    if (compatibility !== undefined) await this.setCompatibility(subject, compatibility);
    return id;
  }

  /**
   * The Avro type of a global id, from the registry once, then from memory. Concurrent misses share one promise:
   * the library shares the HTTP request, but each caller would still parse the schema into a type of its own
   * (a batch of 8,000 records decoded at a cold start meant 8,000 parses of the chat-event schema). A failure is
   * not kept, so the next call asks again.
   */
  writerType(id: number): Promise<Type> {
    let type = this.writerTypes.get(id);
    if (type === undefined) {
      type = (this.library.getSchema(id) as Promise<Type>).catch((err: unknown) => {
        this.writerTypes.delete(id);
        throw toEventsError(err, `schema ${id}`, { id });
      });
      this.writerTypes.set(id, type);
    }
    return type;
  }

  /** Sets a subject's compatibility level (`PUT /config/{subject}`); the library only sets it on a first version. */
  async setCompatibility(subject: string, level: CompatibilityLevel): Promise<void> {
    await this.request('PUT', `/config/${encodeURIComponent(subject)}`, { compatibility: level });
  }

  /** Reads a subject's compatibility level, or undefined when the subject does not exist. */
  async getCompatibility(subject: string): Promise<string | undefined> {
    try {
      const body = await this.request('GET', `/config/${encodeURIComponent(subject)}`);
      return readString(body, 'compatibilityLevel') ?? readString(body, 'compatibility');
    } catch (err) {
      if (err instanceof EventsError && err.code === 'EVENTS_SCHEMA_NOT_FOUND') return undefined;
      throw err;
    }
  }

  /** The schema text of a global id, always from the registry (no cache): a readiness probe. */
  async getSchemaById(id: number): Promise<string> {
    const body = await this.request('GET', `/schemas/ids/${id}`);
    const schema = readString(body, 'schema');
    if (schema === undefined) {
      throw new EventsError('EVENTS_SCHEMA_NOT_FOUND', `registry has no schema text for id ${id}`, {
        details: { id },
      });
    }
    return schema;
  }

  private async request(method: string, path: string, json?: unknown): Promise<unknown> {
    let response: Response;
    try {
      response = await fetch(`${this.baseUrl}${path}`, {
        method,
        headers: { accept: CONTENT_TYPE, ...(json === undefined ? {} : { 'content-type': CONTENT_TYPE }) },
        ...(json === undefined ? {} : { body: JSON.stringify(json) }),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (cause) {
      throw new EventsError('EVENTS_REGISTRY_UNAVAILABLE', `schema registry unreachable: ${method} ${path}`, {
        cause,
        details: { method, path },
      });
    }
    const text = await response.text().catch(() => '');
    if (response.ok) return text === '' ? undefined : (JSON.parse(text) as unknown);
    throw statusError(response.status, `${method} ${path}${describeError(text)}`, {
      method,
      path,
      status: response.status,
    });
  }
}

type Details = Readonly<Record<string, string | number>>;

function statusError(status: number, what: string, details: Details, cause?: unknown): EventsError {
  const options = { details, ...(cause === undefined ? {} : { cause }) };
  if (status === 404)
    return new EventsError('EVENTS_SCHEMA_NOT_FOUND', `schema registry: not found: ${what}`, options);
  if (status >= 500 || status === 429) {
    return new EventsError(
      'EVENTS_REGISTRY_UNAVAILABLE',
      `schema registry failed (${status}): ${what}`,
      options,
    );
  }
  return new EventsError('EVENTS_REGISTRY_REJECTED', `schema registry refused (${status}): ${what}`, options);
}

/** Maps the library's errors (ResponseError with a status, or its own validation errors) to the events catalogue. */
function toEventsError(err: unknown, what: string, details: Details): EventsError {
  if (err instanceof EventsError) return err;
  const message = err instanceof Error ? err.message : String(err);
  const status = typeof err === 'object' && err !== null ? (err as { status?: unknown }).status : undefined;
  if (typeof status === 'number') {
    if (status === 400 && NO_ANSWER.test(message)) {
      return new EventsError(
        'EVENTS_REGISTRY_UNAVAILABLE',
        `schema registry unreachable: ${what} — ${message.slice(0, 200)}`,
        {
          cause: err,
          details,
        },
      );
    }
    return statusError(status, `${what} — ${message.slice(0, 500)}`, { ...details, status }, err);
  }
  return new EventsError(
    'EVENTS_REGISTRY_REJECTED',
    `schema registry client refused ${what} — ${message.slice(0, 500)}`,
    {
      cause: err,
      details,
    },
  );
}

/** Whether a schema text is a record, enum or fixed with a name (the only kind the library registers). */
function isNamedSchema(schemaText: string): boolean {
  try {
    const parsed = JSON.parse(schemaText) as unknown;
    return (
      typeof parsed === 'object' && parsed !== null && typeof (parsed as { name?: unknown }).name === 'string'
    );
  } catch {
    return true; // not JSON: let the library refuse it with its own message
  }
}

function describeError(text: string): string {
  if (text === '') return '';
  try {
    const message = readString(JSON.parse(text) as unknown, 'message');
    if (message !== undefined) return ` — ${message.slice(0, 500)}`;
  } catch {
    // not JSON: fall through
  }
  return ` — ${text.slice(0, 200)}`;
}

function readString(value: unknown, key: string): string | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const field = (value as Record<string, unknown>)[key];
  return typeof field === 'string' ? field : undefined;
}
