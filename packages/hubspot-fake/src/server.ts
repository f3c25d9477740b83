import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  FaultInjector,
  randomFaultPlan,
  type Fault,
  type FaultPlan,
  type FaultTarget,
  type RandomFaultSpec,
} from './faults.js';
import {
  BATCH_LIMIT,
  CONTACT_PROPERTIES,
  NOTE_BODY_LIMIT,
  NOTE_TO_CONTACT,
  type FakeContact,
  type FakeHubSpotOptions,
  type FakeNote,
  type FakePortal,
  type RecordedCall,
} from './state.js';

/** The answer of a route: status, JSON body, extra headers; `written` says the request changed state. */
interface Answer {
  readonly status: number;
  readonly body: unknown;
  readonly headers?: Record<string, string>;
  readonly noteId?: string;
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly category: string,
    message: string,
    readonly extra: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
const now = () => new Date().toISOString();

function errorBody(category: string, message: string, extra: Record<string, unknown> = {}) {
  return { status: 'error', message, correlationId: randomUUID(), category, ...extra };
}

/**
 * A local HubSpot (CRM v3 contacts and notes, v4 associations) that enforces what the real one does: bearer
 * auth, ≤ 100 inputs per batch, 207 with per-input errors, 409 with the existing id on a conflicting create,
 * the 65,536-character note limit, association type 202, rolling ten-second and daily limits with HubSpot's 429
 * bodies, and switchable faults. It never deduplicates notes: a retried create makes a second note, as HubSpot
 * does. `/__fake/*` is its inspection and control API (no auth), for tests and the demo in other processes.
 */
export class FakeHubSpot {
  private server: Server | undefined;
  private base = '';
  private readonly portals = new Map<number, FakePortal>();
  private readonly faults = new FaultInjector();
  private readonly recorded: RecordedCall[] = [];
  private nextId = 1000;
  private down = false;
  readonly tenSecondlyLimit: number;
  readonly tenSecondlyWindowMs: number;
  dailyLimit: number;
  readonly dailyWindowMs: number;

  constructor(private readonly options: FakeHubSpotOptions) {
    this.options = { ...options, tokens: { ...options.tokens } };
    this.tenSecondlyLimit = options.tenSecondlyLimit ?? 190;
    this.tenSecondlyWindowMs = options.tenSecondlyWindowMs ?? 10_000;
    this.dailyLimit = options.dailyLimit ?? 650_000;
    this.dailyWindowMs = options.dailyWindowMs ?? 24 * 60 * 60 * 1000;
    for (const portalId of new Set(Object.values(options.tokens))) this.portal(portalId);
  }

  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      this.route(req, res).catch(() => {
        if (!res.headersSent) send(res, 500, errorBody('INTERNAL_ERROR', 'fake failed'));
        else res.destroy();
      });
    });
    const server = this.server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.options.port ?? 0, this.options.host ?? '127.0.0.1', () => resolve());
    });
    const addr = server.address() as AddressInfo;
    this.base = `http://${addr.address}:${addr.port}`;
    return this;
  }

  /** HUBSPOT_API_URL for the client. */
  get url(): string {
    return this.base;
  }

  async close(): Promise<void> {
    const server = this.server;
    if (server === undefined) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  // --- control and inspection (in process; the same over HTTP under /__fake) ---------------------------------

  injectFaults(target: FaultTarget, ...faults: Fault[]): void {
    this.faults.enqueue(target, ...faults);
  }

  setFaultPlan(plan: FaultPlan | undefined): void {
    this.faults.setPlan(plan);
  }

  clearFaults(): void {
    this.faults.clear();
  }

  /** While down, every API call answers 503 (HubSpot unreachable for minutes, as far as a client can tell). */
  setDown(down: boolean): void {
    this.down = down;
  }

  /** Lets a token in (portal id) or out (null): a token revoked or replaced in HubSpot. */
  setToken(token: string, portalId: number | null): void {
    const tokens = this.options.tokens as Record<string, number>;
    if (portalId === null) delete tokens[token];
    else {
      tokens[token] = portalId;
      this.portal(portalId);
    }
  }

  /** Starts a new daily window for every portal (the midnight reset), optionally with a new daily limit. */
  resetDaily(dailyLimit?: number): void {
    if (dailyLimit !== undefined) this.dailyLimit = dailyLimit;
    for (const p of this.portals.values()) {
      p.dailyCount = 0;
      p.dailyWindowStart = Date.now();
    }
  }

  calls(): readonly RecordedCall[] {
    return this.recorded;
  }

  contacts(portalId?: number): FakeContact[] {
    return this.portalsOf(portalId).flatMap((p) => [...p.contacts.values()]);
  }

  notes(portalId?: number): FakeNote[] {
    return this.portalsOf(portalId).flatMap((p) => [...p.notes.values()]);
  }

  /** E-mails GDPR-deleted in the portal(s) (lower-cased): HubSpot refuses contacts with them from then on. */
  gdprDeleted(portalId?: number): string[] {
    return this.portalsOf(portalId).flatMap((p) => [...p.gdprBlocked]);
  }

  private portalsOf(portalId?: number): FakePortal[] {
    return portalId === undefined
      ? [...this.portals.values()]
      : [this.portals.get(portalId)].filter((p) => p !== undefined);
  }

  private portal(portalId: number): FakePortal {
    let p = this.portals.get(portalId);
    if (p === undefined) {
      p = {
        portalId,
        contacts: new Map(),
        contactsByEmail: new Map(),
        notes: new Map(),
        gdprBlocked: new Set(),
        window: [],
        dailyCount: 0,
        dailyWindowStart: Date.now(),
      };
      this.portals.set(portalId, p);
    }
    return p;
  }

  private id(): string {
    this.nextId += 1;
    return String(this.nextId);
  }

  // --- HTTP --------------------------------------------------------------------------------------------------

  private async route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://fake.local');
    const raw = await readBody(req);
    if (url.pathname.startsWith('/__fake/')) return this.control(req.method ?? 'GET', url, raw, res);

    const record = (status: number, portalId: number | null, extra: Partial<RecordedCall> = {}) =>
      this.recorded.push({
        at: Date.now(),
        method: req.method ?? 'GET',
        path: url.pathname,
        portalId,
        status,
        ...extra,
      });

    if (this.down) {
      record(503, null, { fault: 'down' });
      return send(res, 503, errorBody('SERVICE_UNAVAILABLE', 'HubSpot is unavailable (fake is down)'));
    }

    // Auth first: HubSpot answers 401 before anything else.
    const token = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '')?.[1];
    if (token !== undefined && (this.options.expiredTokens ?? []).includes(token)) {
      record(401, null);
      return send(
        res,
        401,
        errorBody(
          'EXPIRED_AUTHENTICATION',
          'The OAuth token used to make this call expired 5 minute(s) ago.',
        ),
      );
    }
    const portalId = token === undefined ? undefined : this.options.tokens[token];
    if (portalId === undefined) {
      record(401, null);
      return send(
        res,
        401,
        errorBody(
          'INVALID_AUTHENTICATION',
          'Authentication credentials not found. This API supports OAuth 2.0 authentication.',
        ),
      );
    }
    const portal = this.portal(portalId);
    const handler = this.handlerFor(req.method ?? 'GET', url.pathname);
    if (handler === undefined) {
      record(404, portalId);
      return send(
        res,
        404,
        errorBody('OBJECT_NOT_FOUND', `no route ${req.method} ${url.pathname} in the fake`),
      );
    }

    const limited = this.rateLimit(portal);
    if (limited !== undefined) {
      record(429, portalId, { fault: `limit:${limited.policy}` });
      return send(res, 429, rateLimitBody(limited.policy), this.retryAfter(limited.retryAfterSeconds));
    }

    const fault = this.faults.next(handler.target);
    if (fault?.kind === 'status') {
      record(fault.status, portalId, { fault: `status:${fault.status}` });
      return send(
        res,
        fault.status,
        fault.status === 423
          ? errorBody('LOCKED', 'The resource is locked; try again shortly.')
          : errorBody('INTERNAL_ERROR', 'internal error (injected by the fake)'),
      );
    }
    if (fault?.kind === 'rate-limit') {
      record(429, portalId, { fault: `rate-limit:${fault.policy}` });
      return send(res, 429, rateLimitBody(fault.policy), this.retryAfter(fault.retryAfterSeconds));
    }
    if (fault?.kind === 'slow') await sleep(fault.ms);
    if (fault?.kind === 'answer-late' && fault.writeAfterMs !== undefined) await sleep(fault.writeAfterMs);

    let answer: Answer;
    try {
      answer = handler.run(portal, url, parseJson(raw));
    } catch (error) {
      if (!(error instanceof HttpError)) throw error;
      answer = { status: error.status, body: errorBody(error.category, error.message, error.extra) };
    }
    const headers = { ...this.limitHeaders(portal), ...answer.headers };
    const faultName = fault === undefined ? {} : { fault: fault.kind };
    const conflict = fault?.kind === 'conflict' && answer.status < 300;
    record(conflict ? 409 : answer.status, portalId, {
      ...faultName,
      ...(answer.noteId === undefined ? {} : { noteId: answer.noteId }),
    });
    if (conflict) {
      const firstId = (answer.body as { results?: { id: string }[] }).results?.[0]?.id ?? '0';
      return send(
        res,
        409,
        errorBody('OBJECT_ALREADY_EXISTS', `Contact already exists. Existing ID: ${firstId}`, {
          error: 'CONTACT_EXISTS',
        }),
        headers,
      );
    }
    if (fault?.kind === 'drop-after-write') {
      res.socket?.destroy();
      return;
    }
    if (fault?.kind === 'answer-late') {
      await sleep(fault.ms);
      if (res.socket === null || res.socket.destroyed) return;
    }
    send(res, answer.status, answer.body, headers);
  }

  private retryAfter(seconds: number | undefined): Record<string, string> {
    const s = seconds ?? this.options.retryAfterSeconds;
    return s === undefined ? {} : { 'retry-after': String(s) };
  }

  /** Counts the call against the portal's windows; the policy it breaks, if any. */
  private rateLimit(
    portal: FakePortal,
  ): { policy: 'TEN_SECONDLY_ROLLING' | 'DAILY'; retryAfterSeconds?: number } | undefined {
    const t = Date.now();
    if (t - portal.dailyWindowStart >= this.dailyWindowMs) {
      portal.dailyCount = 0;
      portal.dailyWindowStart = t;
    }
    if (portal.dailyCount >= this.dailyLimit) return { policy: 'DAILY' };
    while (portal.window.length > 0 && portal.window[0]! <= t - this.tenSecondlyWindowMs)
      portal.window.shift();
    if (portal.window.length >= this.tenSecondlyLimit) return { policy: 'TEN_SECONDLY_ROLLING' };
    portal.window.push(t);
    portal.dailyCount += 1;
    return undefined;
  }

  private limitHeaders(portal: FakePortal): Record<string, string> {
    return {
      'x-hubspot-ratelimit-max': String(this.tenSecondlyLimit),
      'x-hubspot-ratelimit-remaining': String(Math.max(0, this.tenSecondlyLimit - portal.window.length)),
      'x-hubspot-ratelimit-interval-milliseconds': String(this.tenSecondlyWindowMs),
      'x-hubspot-ratelimit-daily': String(this.dailyLimit),
      'x-hubspot-ratelimit-daily-remaining': String(Math.max(0, this.dailyLimit - portal.dailyCount)),
    };
  }

  private handlerFor(
    method: string,
    path: string,
  ): { target: FaultTarget; run: (portal: FakePortal, url: URL, body: unknown) => Answer } | undefined {
    if (method === 'POST' && path === '/crm/v3/objects/contacts/batch/upsert')
      return { target: 'contacts', run: (p, _u, b) => this.batchUpsert(p, b) };
    if (method === 'POST' && path === '/crm/v3/objects/contacts/gdpr-delete')
      return { target: 'contacts', run: (p, _u, b) => this.gdprDelete(p, b) };
    if (method === 'POST' && path === '/crm/v3/objects/contacts')
      return { target: 'contacts', run: (p, _u, b) => this.createContact(p, b) };
    const contact = /^\/crm\/v3\/objects\/contacts\/([^/]+)$/.exec(path);
    if (method === 'GET' && contact !== null)
      return { target: 'contacts', run: (p, u) => this.getContact(p, decodeURIComponent(contact[1]!), u) };
    if (method === 'POST' && path === '/crm/v3/objects/notes')
      return { target: 'notes-create', run: (p, _u, b) => this.createNote(p, b) };
    const note = /^\/crm\/v3\/objects\/notes\/(\d+)$/.exec(path);
    if (method === 'PATCH' && note !== null)
      return { target: 'notes-update', run: (p, _u, b) => this.updateNote(p, note[1]!, b) };
    if (method === 'DELETE' && note !== null)
      return { target: 'notes-delete', run: (p) => this.deleteNote(p, note[1]!) };
    if (method === 'POST' && path === '/crm/v3/objects/notes/batch/read')
      return { target: 'notes-read', run: (p, _u, b) => this.readNotes(p, b) };
    const assoc = /^\/crm\/v4\/objects\/contacts\/(\d+)\/associations\/notes$/.exec(path);
    if (method === 'GET' && assoc !== null)
      return { target: 'notes-read', run: (p, u) => this.contactNotes(p, assoc[1]!, u) };
    return undefined;
  }

  // --- contacts ----------------------------------------------------------------------------------------------

  private batchUpsert(portal: FakePortal, body: unknown): Answer {
    const inputs = objectField(body, 'inputs');
    if (!Array.isArray(inputs)) throw validation('inputs must be an array');
    if (inputs.length > BATCH_LIMIT)
      throw validation(`Batch input limit exceeded: ${inputs.length} inputs, at most ${BATCH_LIMIT} allowed`);
    const keys = inputs.map((i) => String(objectField(i, 'id') ?? '').toLowerCase());
    const duplicate = keys.find((k, i) => k !== '' && keys.indexOf(k) !== i);
    if (duplicate !== undefined) throw validation(`Duplicate IDs found in batch input: [${duplicate}]`);
    const startedAt = now();
    const results: unknown[] = [];
    const errors: unknown[] = [];
    for (const input of inputs) {
      const traceId = objectField(input, 'objectWriteTraceId');
      const trace = typeof traceId === 'string' ? { objectWriteTraceId: traceId } : {};
      const problem = this.upsertProblem(input, portal.gdprBlocked);
      if (problem !== undefined) {
        errors.push({
          status: 'error',
          category: 'VALIDATION_ERROR',
          message: problem.message,
          context: {
            id: [String(objectField(input, 'id'))],
            ...(typeof traceId === 'string' ? { objectWriteTraceId: [traceId] } : {}),
          },
          errors: [
            { message: problem.message, code: problem.code, ...(problem.in ? { in: problem.in } : {}) },
          ],
          links: {},
          ...trace,
        });
        continue;
      }
      const email = String(objectField(input, 'id'));
      const properties = objectField(input, 'properties') as Record<string, string>;
      const { contact, created } = this.upsertContact(portal, email, properties);
      results.push({ ...publicContact(contact), new: created, ...trace });
    }
    const completedAt = now();
    if (errors.length === 0)
      return { status: 200, body: { status: 'COMPLETE', results, startedAt, completedAt } };
    return {
      status: 207,
      body: { status: 'COMPLETE', results, errors, numErrors: errors.length, startedAt, completedAt },
    };
  }

  private upsertProblem(
    input: unknown,
    blocked: ReadonlySet<string>,
  ): { message: string; code: string; in?: string } | undefined {
    const id = objectField(input, 'id');
    const properties = objectField(input, 'properties');
    if (typeof id !== 'string' || id === '') return { message: 'id is required', code: 'REQUIRED' };
    if (objectField(input, 'idProperty') !== 'email')
      return { message: 'the fake supports idProperty "email" only', code: 'INVALID_ID_PROPERTY' };
    if (typeof properties !== 'object' || properties === null || Array.isArray(properties))
      return { message: 'properties is required', code: 'REQUIRED' };
    if (!EMAIL.test(id))
      return {
        message: `Property values were not valid: email "${id}" is invalid`,
        code: 'INVALID_EMAIL',
        in: 'email',
      };
    for (const [name, value] of Object.entries(properties)) {
      if (!CONTACT_PROPERTIES.has(name))
        return { message: `Property "${name}" does not exist`, code: 'PROPERTY_DOESNT_EXIST', in: name };
      if (typeof value !== 'string')
        return {
          message: `Property values were not valid: ${name} must be a string`,
          code: 'INVALID_STRING',
          in: name,
        };
    }
    if (blocked.has(id.toLowerCase()))
      return {
        message: `Property values were not valid: email "${id}" was permanently deleted (GDPR) and is blocklisted`,
        code: 'INVALID_EMAIL',
        in: 'email',
      };
    const email = (properties as Record<string, unknown>)['email'];
    if (email !== undefined && String(email).toLowerCase() !== id.toLowerCase())
      return { message: 'email property differs from the id', code: 'INVALID_EMAIL', in: 'email' };
    return undefined;
  }

  private upsertContact(
    portal: FakePortal,
    email: string,
    properties: Record<string, string>,
  ): { contact: FakeContact; created: boolean } {
    const key = email.toLowerCase();
    const existing = portal.contactsByEmail.get(key);
    if (existing !== undefined) {
      const contact = portal.contacts.get(existing)!;
      contact.properties = { ...contact.properties, ...properties };
      contact.updatedAt = now();
      return { contact, created: false };
    }
    const at = now();
    const contact: FakeContact = {
      id: this.id(),
      emailKey: key,
      properties: { ...properties, email },
      createdAt: at,
      updatedAt: at,
    };
    portal.contacts.set(contact.id, contact);
    portal.contactsByEmail.set(key, contact.id);
    return { contact, created: true };
  }

  private createContact(portal: FakePortal, body: unknown): Answer {
    const properties = objectField(body, 'properties') as Record<string, string> | undefined;
    const email = properties?.['email'];
    if (typeof email !== 'string' || !EMAIL.test(email))
      throw validation('properties.email must be an e-mail');
    if (portal.gdprBlocked.has(email.toLowerCase()))
      throw validation(
        `Property values were not valid: email was permanently deleted (GDPR) and is blocklisted`,
      );
    const existing = portal.contactsByEmail.get(email.toLowerCase());
    if (existing !== undefined) {
      throw new HttpError(409, 'OBJECT_ALREADY_EXISTS', `Contact already exists. Existing ID: ${existing}`, {
        error: 'CONTACT_EXISTS',
        errors: [
          { message: `A contact with email ${email} already exists. Existing ID: ${existing}`, in: 'email' },
        ],
      });
    }
    const { contact } = this.upsertContact(portal, email, properties!);
    return { status: 201, body: publicContact(contact) };
  }

  /**
   * HubSpot's GDPR delete: `{objectId}` (a contact id) or `{objectId: <e-mail>, idProperty: "email"}`. The contact
   * and its associations go, its e-mail is blocklisted; an unknown e-mail is blocklisted too (HubSpot's rule), an
   * unknown id is 404. 204 without a body.
   */
  private gdprDelete(portal: FakePortal, body: unknown): Answer {
    const objectId = objectField(body, 'objectId');
    const idProperty = objectField(body, 'idProperty');
    if (typeof objectId !== 'string' || objectId === '') throw validation('objectId is required');
    if (idProperty !== undefined && idProperty !== 'email' && idProperty !== 'hs_object_id')
      throw validation(`idProperty "${String(idProperty)}" is not a unique contact property`);
    let contactId: string | undefined;
    if (idProperty === 'email') {
      if (!EMAIL.test(objectId)) throw validation(`Property values were not valid: email is invalid`);
      contactId = portal.contactsByEmail.get(objectId.toLowerCase());
      portal.gdprBlocked.add(objectId.toLowerCase());
      if (contactId === undefined) return { status: 204, body: undefined };
    } else {
      contactId = objectId;
      if (!portal.contacts.has(contactId)) throw new HttpError(404, 'OBJECT_NOT_FOUND', 'resource not found');
    }
    const contact = portal.contacts.get(contactId)!;
    portal.contacts.delete(contactId);
    portal.contactsByEmail.delete(contact.emailKey);
    portal.gdprBlocked.add(contact.emailKey);
    for (const note of portal.notes.values()) {
      const at = note.contactIds.indexOf(contactId);
      if (at >= 0) note.contactIds.splice(at, 1);
    }
    return { status: 204, body: undefined };
  }

  private getContact(portal: FakePortal, id: string, url: URL): Answer {
    const byEmail = url.searchParams.get('idProperty') === 'email';
    const contactId = byEmail ? portal.contactsByEmail.get(id.toLowerCase()) : id;
    const contact = contactId === undefined ? undefined : portal.contacts.get(contactId);
    if (contact === undefined) throw new HttpError(404, 'OBJECT_NOT_FOUND', 'resource not found');
    return { status: 200, body: publicContact(contact) };
  }

  // --- notes -------------------------------------------------------------------------------------------------

  private noteProperties(body: unknown, create: boolean): Record<string, string> {
    const properties = objectField(body, 'properties');
    if (typeof properties !== 'object' || properties === null || Array.isArray(properties))
      throw validation('properties is required');
    const props = properties as Record<string, unknown>;
    for (const [name, value] of Object.entries(props)) {
      if (typeof value !== 'string' && typeof value !== 'number')
        throw validation(`Property values were not valid: ${name}`);
    }
    const ts = props['hs_timestamp'];
    if (create && ts === undefined)
      throw validation('Property values were not valid: hs_timestamp is required');
    if (ts !== undefined && !validTimestamp(ts))
      throw validation(`Property values were not valid: hs_timestamp "${String(ts)}" is not a date`);
    const text = props['hs_note_body'];
    if (typeof text === 'string' && text.length > NOTE_BODY_LIMIT)
      throw validation(
        `Property values were not valid: hs_note_body is ${text.length} characters, more than the limit of ${NOTE_BODY_LIMIT}`,
      );
    return Object.fromEntries(Object.entries(props).map(([k, v]) => [k, String(v)]));
  }

  private createNote(portal: FakePortal, body: unknown): Answer {
    const properties = this.noteProperties(body, true);
    const associations = objectField(body, 'associations');
    if (!Array.isArray(associations)) throw validation('associations is required (send [] for none)');
    const contactIds: string[] = [];
    for (const a of associations) {
      const to = String(objectField(objectField(a, 'to'), 'id') ?? '');
      const types = objectField(a, 'types');
      if (!Array.isArray(types) || types.length === 0) throw validation('association types are required');
      for (const t of types) {
        const category = objectField(t, 'associationCategory');
        const typeId = objectField(t, 'associationTypeId');
        if (category !== 'HUBSPOT_DEFINED' || typeId !== NOTE_TO_CONTACT)
          throw new HttpError(
            400,
            'VALIDATION_ERROR',
            `invalid association type ${String(category)}/${String(typeId)} from note to contact`,
          );
      }
      if (!portal.contacts.has(to))
        throw new HttpError(
          400,
          'VALIDATION_ERROR',
          `One or more associations are invalid: contact ${to} does not exist`,
        );
      contactIds.push(to);
    }
    const at = now();
    const note: FakeNote = { id: this.id(), properties, contactIds, createdAt: at, updatedAt: at };
    portal.notes.set(note.id, note);
    return { status: 201, body: publicNote(note), noteId: note.id };
  }

  private updateNote(portal: FakePortal, id: string, body: unknown): Answer {
    const note = portal.notes.get(id);
    if (note === undefined) throw new HttpError(404, 'OBJECT_NOT_FOUND', 'resource not found');
    note.properties = { ...note.properties, ...this.noteProperties(body, false) };
    note.updatedAt = now();
    return { status: 200, body: publicNote(note) };
  }

  /** Archive: 204 without a body; 404 for a note the portal does not have (never had, or deleted already). */
  private deleteNote(portal: FakePortal, id: string): Answer {
    if (!portal.notes.delete(id)) throw new HttpError(404, 'OBJECT_NOT_FOUND', 'resource not found');
    return { status: 204, body: undefined };
  }

  private readNotes(portal: FakePortal, body: unknown): Answer {
    const inputs = objectField(body, 'inputs');
    if (!Array.isArray(inputs)) throw validation('inputs must be an array');
    if (inputs.length > BATCH_LIMIT) throw validation(`Batch input limit exceeded: at most ${BATCH_LIMIT}`);
    const wanted = objectField(body, 'properties');
    const names = Array.isArray(wanted) ? wanted.map(String) : [];
    const startedAt = now();
    const results = inputs
      .map((i) => portal.notes.get(String(objectField(i, 'id'))))
      .filter((n): n is FakeNote => n !== undefined)
      .map((n) => ({
        ...publicNote(n),
        properties: Object.fromEntries(
          names.filter((k) => k in n.properties).map((k) => [k, n.properties[k]]),
        ),
      }));
    return { status: 200, body: { status: 'COMPLETE', results, startedAt, completedAt: now() } };
  }

  private contactNotes(portal: FakePortal, contactId: string, url: URL): Answer {
    if (!portal.contacts.has(contactId)) throw new HttpError(404, 'OBJECT_NOT_FOUND', 'resource not found');
    const limit = Math.min(500, Math.max(1, Number(url.searchParams.get('limit') ?? '500') || 500));
    const after = Number(url.searchParams.get('after') ?? '0') || 0;
    const ids = [...portal.notes.values()].filter((n) => n.contactIds.includes(contactId)).map((n) => n.id);
    const page = ids.slice(after, after + limit);
    const results = page.map((id) => ({
      toObjectId: Number(id),
      associationTypes: [{ category: 'HUBSPOT_DEFINED', typeId: NOTE_TO_CONTACT, label: null }],
    }));
    const next = after + limit < ids.length ? { paging: { next: { after: String(after + limit) } } } : {};
    return { status: 200, body: { results, ...next } };
  }

  // --- /__fake control API -------------------------------------------------------------------------------------

  private control(method: string, url: URL, raw: string, res: ServerResponse): void {
    const portalParam = url.searchParams.get('portal');
    const portalId = portalParam === null ? undefined : Number(portalParam);
    const route = `${method} ${url.pathname}`;
    switch (route) {
      case 'GET /__fake/contacts':
        return send(res, 200, this.contacts(portalId));
      case 'GET /__fake/notes':
        return send(res, 200, this.notes(portalId));
      case 'GET /__fake/calls':
        return send(res, 200, this.calls());
      case 'POST /__fake/faults': {
        const body = parseJson(raw) as
          { target?: FaultTarget; faults?: Fault[]; random?: RandomFaultSpec[]; seed?: number } | undefined;
        if (body?.faults !== undefined) this.injectFaults(body.target ?? 'any', ...body.faults);
        if (body?.random !== undefined) this.setFaultPlan(randomFaultPlan(body.random, body.seed));
        return send(res, 204, undefined);
      }
      case 'DELETE /__fake/faults':
        this.clearFaults();
        return send(res, 204, undefined);
      case 'POST /__fake/down':
        this.setDown(true);
        return send(res, 204, undefined);
      case 'POST /__fake/up':
        this.setDown(false);
        return send(res, 204, undefined);
      case 'POST /__fake/reset-daily':
        this.resetDaily();
        return send(res, 204, undefined);
      default:
        return send(res, 404, { message: `no control route ${route}` });
    }
  }
}

export async function startFakeHubSpot(options: FakeHubSpotOptions): Promise<FakeHubSpot> {
  return new FakeHubSpot(options).start();
}

function rateLimitBody(policy: 'TEN_SECONDLY_ROLLING' | 'DAILY' | 'SECONDLY') {
  const name = { TEN_SECONDLY_ROLLING: 'ten_secondly_rolling', DAILY: 'daily', SECONDLY: 'secondly' }[policy];
  return {
    status: 'error',
    message: `You have reached your ${name} limit.`,
    errorType: 'RATE_LIMIT',
    correlationId: randomUUID(),
    policyName: policy,
    requestId: randomUUID(),
  };
}

function publicContact(c: FakeContact) {
  return {
    id: c.id,
    properties: { ...c.properties, hs_object_id: c.id },
    createdAt: c.createdAt,
    updatedAt: c.updatedAt,
    archived: false,
  };
}

function publicNote(n: FakeNote) {
  return {
    id: n.id,
    properties: { ...n.properties },
    createdAt: n.createdAt,
    updatedAt: n.updatedAt,
    archived: false,
  };
}

function validation(message: string): HttpError {
  return new HttpError(400, 'VALIDATION_ERROR', message);
}

function validTimestamp(value: unknown): boolean {
  if (typeof value === 'number') return Number.isFinite(value);
  if (typeof value !== 'string') return false;
  return /^\d+$/.test(value) || !Number.isNaN(Date.parse(value));
}

function objectField(value: unknown, name: string): unknown {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)[name]
    : undefined;
}

function parseJson(raw: string): unknown {
  if (raw.trim() === '') return undefined;
  try {
    return JSON.parse(raw) as unknown;
  } catch {
    return undefined;
  }
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

function send(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  if (body === undefined) {
    res.writeHead(status, headers);
    res.end();
    return;
  }
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json;charset=utf-8',
    'content-length': Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}
