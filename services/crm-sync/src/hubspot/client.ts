import { CrmSyncError } from '../errors.js';
import { isNoteOf } from '../sync/note.js';

/** Which HubSpot call, for metrics and the token bucket. */
export type Endpoint =
  'contacts-upsert' | 'note-create' | 'note-update' | 'note-delete' | 'note-associations' | 'notes-read';

/** How a call ended, for metrics: the HTTP status, or what happened instead. */
export type CallOutcome = number | 'timeout' | 'network';

export interface HubSpotClientOptions {
  /** HUBSPOT_API_URL, without a trailing slash. */
  readonly baseUrl: string;
  /** Each request is abandoned after this long (an ambiguous failure for writes). */
  readonly timeoutMs: number;
  /** How long a 429 TEN_SECONDLY_ROLLING without Retry-After blocks the account (HubSpot's window: 10 s). */
  readonly rateLimitWaitMs?: number;
  readonly onCall?: (endpoint: Endpoint, outcome: CallOutcome) => void;
}

export interface ContactInput {
  readonly email: string;
  readonly properties: Readonly<Record<string, string>>;
  /** Correlates a per-input error of a 207 with its input. */
  readonly traceId: string;
}

export interface UpsertOutcome {
  /** traceId -> contact id */
  readonly ids: Map<string, string>;
  /** traceId -> HubSpot's error for that input */
  readonly errors: Map<string, { readonly message: string; readonly error: unknown }>;
}

interface Answer {
  readonly status: number;
  readonly body: unknown;
  readonly headers: Headers;
}

const NOTE_TO_CONTACT = 202;
/** Connection errors that mean the request never left: safe to call "not written". */
const NOT_SENT = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH']);

/**
 * HubSpot's CRM v3 contacts and notes, v4 associations, over fetch. Every failure is a CrmSyncError whose code
 * says what to do (wait out a window, pause the account, back off, look the note up, dead-letter the thread).
 * Never logs and never sees a body in an error message.
 */
export class HubSpotClient {
  constructor(private readonly options: HubSpotClientOptions) {}

  /** Batch upsert by e-mail (≤ 100 inputs). A 409 (a concurrent create of the same e-mail) is retried once. */
  async upsertContacts(
    token: string,
    inputs: readonly ContactInput[],
    /** Waits for the account's bucket before a further request (the 409 retry); the caller paced the first. */
    pace: () => Promise<void> = () => Promise.resolve(),
  ): Promise<UpsertOutcome> {
    const body = {
      inputs: inputs.map((i) => ({
        id: i.email,
        idProperty: 'email',
        properties: i.properties,
        objectWriteTraceId: i.traceId,
      })),
    };
    let answer = await this.request(
      'contacts-upsert',
      token,
      'POST',
      '/crm/v3/objects/contacts/batch/upsert',
      body,
      [200, 207, 409],
    );
    // Convergence, not an error: the other writer created the contact; the same upsert now updates it.
    if (answer.status === 409) {
      await pace();
      answer = await this.request(
        'contacts-upsert',
        token,
        'POST',
        '/crm/v3/objects/contacts/batch/upsert',
        body,
        [200, 207, 409],
      );
      // Still a conflict: the other writer's create is not visible yet. Not the inputs' fault (no dead letter
      // for the batch): the batch backs off and is tried again.
      if (answer.status === 409)
        throw new CrmSyncError(
          'CRM_HUBSPOT_UNAVAILABLE',
          'HubSpot answered 409 twice (a concurrent create)',
          {
            status: 409,
          },
        );
    }
    const ids = new Map<string, string>();
    const errors = new Map<string, { message: string; error: unknown }>();
    const byEmail = new Map(inputs.map((i) => [i.email.toLowerCase(), i.traceId]));
    const results = field(answer.body, 'results');
    for (const r of Array.isArray(results) ? results : []) {
      const id = field(r, 'id');
      const trace = field(r, 'objectWriteTraceId');
      const email = field(field(r, 'properties'), 'email');
      const traceId =
        typeof trace === 'string'
          ? trace
          : typeof email === 'string'
            ? byEmail.get(email.toLowerCase())
            : undefined;
      if (typeof id === 'string' && traceId !== undefined) ids.set(traceId, id);
    }
    const failures = field(answer.body, 'errors');
    for (const e of Array.isArray(failures) ? failures : []) {
      const context = field(e, 'context');
      const traceIds = field(context, 'objectWriteTraceId');
      const contextIds = field(context, 'id');
      const traces = Array.isArray(traceIds)
        ? traceIds.map(String)
        : Array.isArray(contextIds)
          ? contextIds
              .map((id) => byEmail.get(String(id).toLowerCase()))
              .filter((t): t is string => t !== undefined)
          : [];
      const message = String(field(e, 'message') ?? 'rejected by HubSpot');
      for (const t of traces) errors.set(t, { message, error: e });
    }
    for (const i of inputs) {
      if (!ids.has(i.traceId) && !errors.has(i.traceId))
        throw new CrmSyncError(
          'CRM_HUBSPOT_UNEXPECTED',
          'the upsert answer names neither a result nor an error for an input',
          {
            status: answer.status,
          },
        );
    }
    return { ids, errors };
  }

  async createNote(
    token: string,
    note: { body: string; timestamp: string; contactId: string },
  ): Promise<string> {
    const answer = await this.request(
      'note-create',
      token,
      'POST',
      '/crm/v3/objects/notes',
      {
        properties: { hs_timestamp: note.timestamp, hs_note_body: note.body },
        associations: [
          {
            to: { id: note.contactId },
            types: [{ associationCategory: 'HUBSPOT_DEFINED', associationTypeId: NOTE_TO_CONTACT }],
          },
        ],
      },
      [201, 200],
    );
    const id = field(answer.body, 'id');
    if (typeof id !== 'string' && typeof id !== 'number')
      throw new CrmSyncError('CRM_HUBSPOT_UNEXPECTED', 'the note create answer has no id', {
        status: answer.status,
      });
    return String(id);
  }

  /** 'gone' when HubSpot no longer has the note (someone deleted it). */
  async updateNote(
    token: string,
    noteId: string,
    note: { body: string; timestamp: string },
  ): Promise<'updated' | 'gone'> {
    const answer = await this.request(
      'note-update',
      token,
      'PATCH',
      `/crm/v3/objects/notes/${encodeURIComponent(noteId)}`,
      { properties: { hs_timestamp: note.timestamp, hs_note_body: note.body } },
      [200, 404],
    );
    return answer.status === 404 ? 'gone' : 'updated';
  }

  /**
   * Deletes (archives) a note crm-sync made, for an erasure. 404: HubSpot no longer has it (deleted there, or
   * already by an earlier attempt), which is the outcome wanted.
   */
  async deleteNote(token: string, noteId: string): Promise<'deleted' | 'gone'> {
    const answer = await this.request(
      'note-delete',
      token,
      'DELETE',
      `/crm/v3/objects/notes/${encodeURIComponent(noteId)}`,
      undefined,
      [204, 200, 404],
    );
    return answer.status === 404 ? 'gone' : 'deleted';
  }

  /**
   * The id of the contact's note whose body opens with `marker` (isNoteOf: only at its fixed place), if any: the contact's note associations (consistent,
   * unlike search), then their bodies in batches of 100.
   */
  async findNoteByMarker(
    token: string,
    contactId: string,
    marker: string,
    /** Waits for the account's bucket before each request after the first (the caller paced the first). */
    pace: () => Promise<void> = () => Promise.resolve(),
  ): Promise<string | null> {
    const ids: string[] = [];
    let after: string | undefined;
    let requests = 0;
    const paced = async () => {
      if (requests++ > 0) await pace();
    };
    do {
      await paced();
      const query = new URLSearchParams({ limit: '500', ...(after === undefined ? {} : { after }) });
      const answer = await this.request(
        'note-associations',
        token,
        'GET',
        `/crm/v4/objects/contacts/${encodeURIComponent(contactId)}/associations/notes?${query.toString()}`,
        undefined,
        [200, 404],
      );
      if (answer.status === 404) return null;
      const results = field(answer.body, 'results');
      for (const r of Array.isArray(results) ? results : []) {
        const id = field(r, 'toObjectId');
        if (typeof id === 'string' || typeof id === 'number') ids.push(String(id));
      }
      const next = field(field(field(answer.body, 'paging'), 'next'), 'after');
      after = typeof next === 'string' && next !== '' ? next : undefined;
    } while (after !== undefined);
    // Newest first: the note we look for is usually the last one made.
    ids.reverse();
    for (let i = 0; i < ids.length; i += 100) {
      await paced();
      const answer = await this.request(
        'notes-read',
        token,
        'POST',
        '/crm/v3/objects/notes/batch/read',
        { properties: ['hs_note_body'], inputs: ids.slice(i, i + 100).map((id) => ({ id })) },
        [200, 207],
      );
      const results = field(answer.body, 'results');
      for (const r of Array.isArray(results) ? results : []) {
        const body = field(field(r, 'properties'), 'hs_note_body');
        if (typeof body === 'string' && isNoteOf(body, marker)) return String(field(r, 'id'));
      }
    }
    return null;
  }

  private async request(
    endpoint: Endpoint,
    token: string,
    method: string,
    path: string,
    body: unknown,
    accepted: readonly number[],
  ): Promise<Answer> {
    let response: Response;
    try {
      response = await fetch(`${this.options.baseUrl}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${token}`,
          accept: 'application/json',
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(this.options.timeoutMs),
      });
    } catch (error) {
      throw this.failure(endpoint, error);
    }
    let text: string;
    try {
      text = await response.text();
    } catch (error) {
      throw this.failure(endpoint, error);
    }
    this.options.onCall?.(endpoint, response.status);
    let parsed: unknown;
    try {
      parsed = text === '' ? undefined : (JSON.parse(text) as unknown);
    } catch {
      parsed = undefined;
    }
    if (accepted.includes(response.status))
      return { status: response.status, body: parsed, headers: response.headers };
    throw classify(response.status, parsed, response.headers, this.options.rateLimitWaitMs);
  }

  private failure(endpoint: Endpoint, error: unknown): CrmSyncError {
    const timeout = error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError');
    const code = errorCode(error);
    if (!timeout && code !== undefined && NOT_SENT.has(code)) {
      this.options.onCall?.(endpoint, 'network');
      return new CrmSyncError(
        'CRM_HUBSPOT_UNAVAILABLE',
        `HubSpot unreachable (${code})`,
        {},
        { cause: error },
      );
    }
    this.options.onCall?.(endpoint, timeout ? 'timeout' : 'network');
    return new CrmSyncError(
      'CRM_HUBSPOT_AMBIGUOUS',
      timeout ? `no answer within ${this.options.timeoutMs} ms` : `connection lost (${code ?? 'unknown'})`,
      {},
      { cause: error },
    );
  }
}

/** A HubSpot error answer as the code that says what to do. */
export function classify(status: number, body: unknown, headers: Headers, windowMs = 10_000): CrmSyncError {
  const retryAfterHeader = Number(headers.get('retry-after'));
  const retryAfterMs =
    Number.isFinite(retryAfterHeader) && retryAfterHeader > 0 ? retryAfterHeader * 1000 : undefined;
  const message = String(field(body, 'message') ?? `HTTP ${status}`);
  const hubspotError = body === undefined ? undefined : body;
  if (status === 429) {
    const policy = String(field(body, 'policyName') ?? '');
    if (policy === 'DAILY' || /daily limit/i.test(message))
      return new CrmSyncError('CRM_HUBSPOT_DAILY_LIMIT', message, { status, policy: 'DAILY' });
    // HubSpot's own client: ten-secondly -> the window; "secondly limit" (search) -> a second.
    const secondly =
      policy === 'SECONDLY' || (policy !== 'TEN_SECONDLY_ROLLING' && /secondly limit/i.test(message));
    return new CrmSyncError('CRM_HUBSPOT_RATE_LIMITED', message, {
      status,
      policy: secondly ? 'SECONDLY' : policy || 'TEN_SECONDLY_ROLLING',
      retryAfterMs: retryAfterMs ?? (secondly ? Math.min(1_000, windowMs) : windowMs),
    });
  }
  if (status === 401 || status === 403)
    return new CrmSyncError(
      'CRM_HUBSPOT_UNAUTHORIZED',
      `HubSpot refused the token (${status} ${String(field(body, 'category') ?? '')})`,
      {
        status,
      },
    );
  if (status >= 500 || status === 423)
    return new CrmSyncError('CRM_HUBSPOT_UNAVAILABLE', `HubSpot answered ${status}`, {
      status,
      ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
    });
  if (status === 400 || status === 404 || status === 409 || status === 413 || status === 414)
    return new CrmSyncError('CRM_HUBSPOT_REJECTED', message, { status, hubspotError });
  return new CrmSyncError('CRM_HUBSPOT_UNEXPECTED', `HubSpot answered ${status}`, { status });
}

function field(value: unknown, name: string): unknown {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)[name]
    : undefined;
}

function errorCode(error: unknown): string | undefined {
  let e: unknown = error;
  for (let depth = 0; depth < 4 && e !== undefined && e !== null; depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string') return code;
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}
