import { EventsError } from './errors.js';

export type CompatibilityLevel =
  | 'BACKWARD'
  | 'BACKWARD_TRANSITIVE'
  | 'FORWARD'
  | 'FORWARD_TRANSITIVE'
  | 'FULL'
  | 'FULL_TRANSITIVE'
  | 'NONE';

export interface SchemaRegistryClientOptions {
  /** Base URL of the Confluent-compatible API, e.g. `http://127.0.0.1:58081/apis/ccompat/v7`. */
  readonly baseUrl: string;
  /** Per-request timeout; default 5000 ms. */
  readonly timeoutMs?: number;
}

const CONTENT_TYPE = 'application/vnd.schemaregistry.v1+json';

/**
 * A small client for the Confluent schema-registry REST API (also served by Apicurio Registry under
 * `/apis/ccompat/v7`). Only what the pipeline needs: register, look up by id, set compatibility.
 */
export class SchemaRegistryClient {
  readonly baseUrl: string;
  private readonly timeoutMs: number;

  constructor(options: SchemaRegistryClientOptions) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
    this.timeoutMs = options.timeoutMs ?? 5000;
  }

  /** Registers (or finds) an Avro schema under a subject and returns its global id. */
  async register(subject: string, schemaText: string): Promise<number> {
    const body = await this.request('POST', `/subjects/${encodeURIComponent(subject)}/versions`, {
      schema: schemaText,
      schemaType: 'AVRO',
    });
    const id = readNumber(body, 'id');
    if (id === undefined) {
      throw new EventsError('EVENTS_REGISTRY_REJECTED', `registry answered register(${subject}) without an id`, {
        details: { subject },
      });
    }
    return id;
  }

  /** Sets a subject's compatibility level (`PUT /config/{subject}`). */
  async setCompatibility(subject: string, level: CompatibilityLevel): Promise<void> {
    await this.request('PUT', `/config/${encodeURIComponent(subject)}`, { compatibility: level });
  }

  /** Reads a subject's compatibility level, or undefined when the subject has none of its own. */
  async getCompatibility(subject: string): Promise<string | undefined> {
    try {
      const body = await this.request('GET', `/config/${encodeURIComponent(subject)}`);
      const value = readString(body, 'compatibilityLevel') ?? readString(body, 'compatibility');
      return value;
    } catch (err) {
      if (err instanceof EventsError && err.code === 'EVENTS_SCHEMA_NOT_FOUND') return undefined;
      throw err;
    }
  }

  /** The schema text of a global id. */
  async getSchemaById(id: number): Promise<string> {
    const body = await this.request('GET', `/schemas/ids/${id}`);
    const schema = readString(body, 'schema');
    if (schema === undefined) {
      throw new EventsError('EVENTS_SCHEMA_NOT_FOUND', `registry has no schema text for id ${id}`, { details: { id } });
    }
    return schema;
  }

  /** Lists subjects; a cheap reachability probe. */
  async listSubjects(): Promise<string[]> {
    const body = await this.request('GET', '/subjects');
    return Array.isArray(body) ? body.filter((s): s is string => typeof s === 'string') : [];
  }

  private async request(method: string, path: string, json?: unknown): Promise<unknown> {
    const url = `${this.baseUrl}${path}`;
    let response: Response;
    try {
      response = await fetch(url, {
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
    if (response.ok) {
      return text === '' ? undefined : (JSON.parse(text) as unknown);
    }
    const detail = describeError(text);
    const details = { method, path, status: response.status };
    if (response.status === 404) {
      throw new EventsError('EVENTS_SCHEMA_NOT_FOUND', `schema registry: not found: ${method} ${path}${detail}`, { details });
    }
    if (response.status >= 500 || response.status === 429) {
      throw new EventsError('EVENTS_REGISTRY_UNAVAILABLE', `schema registry failed (${response.status}): ${method} ${path}${detail}`, {
        details,
      });
    }
    throw new EventsError('EVENTS_REGISTRY_REJECTED', `schema registry refused (${response.status}): ${method} ${path}${detail}`, {
      details,
    });
  }
}

function describeError(text: string): string {
  if (text === '') return '';
  try {
    const parsed = JSON.parse(text) as unknown;
    const message = readString(parsed, 'message');
    if (message !== undefined) return ` — ${message.slice(0, 500)}`;
  } catch {
    // not JSON: fall through
  }
  return ` — ${text.slice(0, 200)}`;
}

function readNumber(value: unknown, key: string): number | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const field = (value as Record<string, unknown>)[key];
  return typeof field === 'number' ? field : undefined;
}

function readString(value: unknown, key: string): string | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const field = (value as Record<string, unknown>)[key];
  return typeof field === 'string' ? field : undefined;
}
