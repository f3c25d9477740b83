import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import { CrmSyncError } from '../errors.js';
import type { ContactInput, HubSpotClient } from '../hubspot/client.js';
import type { CrmMetrics } from '../metrics.js';
import { AccountBusy, type AccountLimits } from './accounts.js';
import type { ClaimedErasure, ErasureStore } from './erasures.js';
import { renderNote, splitName, syncKey } from './note.js';
import type { ClaimedItem, Snapshot, SyncStore } from './store.js';
import type { TokenSource } from './tokens.js';

export interface WorkerOptions {
  /** Rows claimed at once (contacts of one account go in one batch upsert, ≤ 100 per call). */
  readonly batchSize: number;
  /** How long a claim holds a row; a worker that dies gives its rows back after this. */
  readonly leaseMs: number;
  /**
   * Erasure work per pass (CRM_ERASURE_PASS_MS): then the sync's rows get their turn, the erasure rows left go back
   * to the queue for the next pass. A large erasure (a retention run) never starves the sync.
   */
  readonly erasurePassMs: number;
  /** HUBSPOT_TIMEOUT_MS: a note create holds its row at least this long (plus a margin) past its start. */
  readonly requestTimeoutMs: number;
  /**
   * A note that may have been created (an ambiguous create, a crash) is looked up no sooner than this after the
   * create started: HubSpot may still be writing it when the client gives up.
   */
  readonly lookupDelayMs: number;
  /** How often an idle worker looks for due rows. */
  readonly pollMs: number;
  /** Notes synced at once per account (each call still takes a token of the account's bucket). */
  readonly concurrency: number;
  readonly backoff: { readonly initialMs: number; readonly maxMs: number };
  /** When an account is paused or broken, or a tenant has no token, its rows come back this often. */
  readonly probeMs: number;
  readonly noteMaxChars: number;
  /** LiveChat session field -> HubSpot contact property (besides email, firstname, lastname). */
  readonly contactProperties: Readonly<Record<string, string>>;
}

/** Test seams (a child process SIGKILLs itself there); production leaves them unset. */
export interface WorkerHooks {
  readonly beforeNoteCreate?: (item: ClaimedItem) => void | Promise<void>;
  readonly afterNoteCreate?: (item: ClaimedItem, noteId: string) => void | Promise<void>;
}

export interface WorkerDeps {
  readonly store: SyncStore;
  /** crm.hubspot_erasures: notes to delete in HubSpot after an erasure (crm.erase_chats). */
  readonly erasures: ErasureStore;
  readonly client: HubSpotClient;
  readonly limits: AccountLimits;
  readonly tokens: TokenSource;
  readonly metrics: CrmMetrics;
  readonly logger: Logger;
  readonly options: WorkerOptions;
  readonly hooks?: WorkerHooks;
}

interface Work {
  readonly item: ClaimedItem;
  readonly snapshot: Snapshot;
}

/**
 * Drains crm.outbox: claims due rows (FOR UPDATE SKIP LOCKED, so any number of workers can run), upserts the
 * contacts of each HubSpot account in one batch, then creates or updates one note per thread. Never inside the
 * consumer's processing: HubSpot's state only ever delays this loop.
 */
export class OutboxWorker {
  private readonly abort = new AbortController();
  private running: Promise<void> | undefined;
  private readonly paused = new Set<string>();
  private readonly broken = new Set<string>();
  /** Accounts whose connection this process has recorded as working (once each, then on every recovery). */
  private readonly confirmed = new Set<string>();
  private pendingCountedAt = 0;
  private unparkedAt = 0;

  constructor(private readonly deps: WorkerDeps) {}

  start(): void {
    this.running ??= this.loop();
  }

  async stop(): Promise<void> {
    this.abort.abort();
    await this.running;
  }

  get stopped(): boolean {
    return this.abort.signal.aborted;
  }

  private async loop(): Promise<void> {
    const { store, options, logger } = this.deps;
    while (!this.stopped) {
      try {
        // Erasures first, for a bounded share of the pass: deleting an erased customer's notes is owed, but the
        // sync must not wait behind a retention run's thousands of notes.
        const erasuresClaimedAt = Date.now();
        const erasures = await this.deps.erasures.claim(options.batchSize, options.leaseMs);
        if (erasures.length > 0) {
          const leaseEnd = erasuresClaimedAt + options.leaseMs;
          const margin = Math.min(options.leaseMs / 4, 10_000);
          await this.eraseNotes(
            erasures,
            Math.min(
              leaseEnd - margin,
              erasuresClaimedAt + Math.min(options.erasurePassMs, options.leaseMs / 4),
            ),
          );
        }
        // Taken right before the claim: the lease as this process sees it ends no later than the database's, and
        // the erasure pass's time is not taken from it.
        const claimedAt = Date.now();
        const items = await store.claim(options.batchSize, options.leaseMs);
        if (Date.now() - this.unparkedAt > options.probeMs) {
          this.unparkedAt = Date.now();
          await this.unparkTenants();
        }
        if (Date.now() - this.pendingCountedAt > 5_000) {
          // A count over a large backlog is not free: at most every 5 s.
          this.pendingCountedAt = Date.now();
          this.deps.metrics.pending.set(await store.pendingCount());
        }
        if (items.length === 0) {
          if (erasures.length > 0) continue;
          await sleep(options.pollMs, undefined, { signal: this.abort.signal });
          continue;
        }
        await this.process(items, claimedAt + options.leaseMs);
      } catch (error) {
        if (this.stopped) return;
        // Postgres down or the like: the claimed rows come back when their lease ends.
        logger.warn({ err: errorSummary(error) }, 'outbox worker pass failed; retrying');
        await sleep(options.pollMs * 5, undefined, { signal: this.abort.signal }).catch(() => undefined);
      }
    }
  }

  private async process(items: readonly ClaimedItem[], leaseEnd: number): Promise<void> {
    const { store, tokens, options, limits, metrics, logger } = this.deps;
    const byTenant = new Map<string, ClaimedItem[]>();
    for (const item of items) {
      const list = byTenant.get(item.tenant);
      if (list === undefined) byTenant.set(item.tenant, [item]);
      else list.push(item);
    }
    const byAccount = new Map<string, { token: string; tenants: Set<string>; work: Work[] }>();
    // The tenant first (its token, its account's state), the snapshots only for work that can be sent now: a
    // paused, broken or token-less tenant costs one UPDATE for its whole backlog, and one tenant's failure
    // (an unreadable token) never ends the pass of the others.
    for (const [tenant, tenantItems] of byTenant) {
      const claimToken = tenantItems[0]!.claimToken;
      let credentials: Awaited<ReturnType<TokenSource['tokenFor']>>;
      try {
        credentials = await tokens.tokenFor(tenant);
      } catch (error) {
        if (this.stopped) return;
        const code = error instanceof CrmSyncError ? error.code : 'CRM_TOKEN_UNREADABLE';
        metrics.failures.inc({ code }, tenantItems.length);
        logger.error(
          { tenant, code, err: errorSummary(error) },
          "the tenant's HubSpot token cannot be used; its work waits",
        );
        const attempts = Math.max(...tenantItems.map((i) => i.attempts));
        await store.deferTenant(
          tenant,
          claimToken,
          new Date(Date.now() + Math.max(options.probeMs, backoffDelay(options.backoff, attempts))),
          code,
          true,
        );
        await tokens.reportState?.([tenant], 'broken', code)?.catch(() => undefined);
        continue;
      }
      if (credentials === null) {
        metrics.failures.inc({ code: 'CRM_NO_TOKEN' }, tenantItems.length);
        await store.parkTenant(tenant, claimToken);
        continue;
      }
      const unavailable = limits.unavailable(credentials.account);
      if (unavailable !== undefined) {
        const code = unavailable.kind === 'paused' ? 'CRM_HUBSPOT_DAILY_LIMIT' : 'CRM_HUBSPOT_UNAUTHORIZED';
        await store.deferTenant(tenant, claimToken, new Date(unavailable.until), code, false);
        continue;
      }
      const blockedUntil = limits.blockedUntil(credentials.account);
      if (blockedUntil !== undefined) {
        // A 429 window: the claimed rows come back at its end (one UPDATE), the pass goes on with the others.
        await store.rescheduleClaimed(tenantItems, new Date(blockedUntil), 'CRM_HUBSPOT_RATE_LIMITED');
        continue;
      }
      for (const item of tenantItems) {
        const snapshot = await store.snapshot(item);
        if (snapshot === null) {
          await store.drop(item);
          continue;
        }
        let group = byAccount.get(credentials.account);
        if (group === undefined) {
          group = { token: credentials.token, tenants: new Set(), work: [] };
          byAccount.set(credentials.account, group);
        }
        group.tenants.add(item.tenant);
        group.work.push({ item, snapshot });
      }
    }
    await Promise.all(
      [...byAccount].map(([account, g]) =>
        this.processAccount(account, g.token, [...g.tenants], g.work, leaseEnd),
      ),
    );
  }

  /**
   * Deletes the notes of erased threads in HubSpot (crm.hubspot_erasures), through the same bucket, 429 windows,
   * pauses and connection states as the sync. Each deleted note is recorded at once, so a retry calls only for
   * what is left; a 404 means the note is gone already. Notes whose create was in doubt are looked up by their
   * sync key among the contact's notes first. When nothing is left, the row waits for the tenant to erase the
   * contact (`contact_manual`).
   */
  private async eraseNotes(items: readonly ClaimedErasure[], deadline: number): Promise<void> {
    const { erasures, tokens, limits, options, logger, metrics, client } = this.deps;
    for (const item of items) {
      if (this.stopped) return;
      if (Date.now() >= deadline) {
        await erasures.release(item);
        continue;
      }
      let credentials: Awaited<ReturnType<TokenSource['tokenFor']>>;
      try {
        credentials = await tokens.tokenFor(item.tenant);
      } catch (error) {
        const code = error instanceof CrmSyncError ? error.code : 'CRM_TOKEN_UNREADABLE';
        await erasures.reschedule(
          item,
          new Date(Date.now() + Math.max(options.probeMs, backoffDelay(options.backoff, item.attempts))),
          code,
          true,
        );
        continue;
      }
      if (credentials === null) {
        // No token: nothing can be deleted now; asked again every probe interval.
        await erasures.reschedule(item, new Date(Date.now() + options.probeMs), 'CRM_NO_TOKEN', false);
        continue;
      }
      const { account, token } = credentials;
      const unavailable = limits.unavailable(account);
      if (unavailable !== undefined) {
        const code = unavailable.kind === 'paused' ? 'CRM_HUBSPOT_DAILY_LIMIT' : 'CRM_HUBSPOT_UNAUTHORIZED';
        await erasures.reschedule(item, new Date(unavailable.until), code, false);
        continue;
      }
      if (item.account !== null && item.account !== account) {
        // The notes are in the portal of the token they were made with. The current token may name another
        // portal: its 404 would mark them gone while they stay, and a note id there could be an unrelated note.
        metrics.failures.inc({ code: 'CRM_ERASURE_ACCOUNT_CHANGED' });
        logger.warn(
          { tenant: item.tenant, erasure: item.id, code: 'CRM_ERASURE_ACCOUNT_CHANGED' },
          "an erasure's notes were made with another HubSpot token than the tenant's current one; they wait for it",
        );
        await erasures.reschedule(
          item,
          new Date(Date.now() + Math.max(options.probeMs, options.backoff.maxMs)),
          'CRM_ERASURE_ACCOUNT_CHANGED',
          false,
        );
        continue;
      }
      const tenants = [item.tenant];
      try {
        let outOfTime = false;
        for (const noteId of item.noteIds) {
          if (Date.now() >= deadline) {
            // The pass's share (or the claim's lease) is used up: what is done is recorded, the rest comes next time.
            outOfTime = true;
            break;
          }
          const result = await this.call(account, tenants, () => client.deleteNote(token, noteId));
          await erasures.noteGone(item, noteId, result === 'deleted');
          metrics.notesErased.inc({ outcome: result });
        }
        if (outOfTime) {
          await erasures.release(item);
          continue;
        }
        if (item.lookupKeys.length > 0 && item.lookupAfterMs !== null) {
          // A create in flight or in doubt at the erasure may still land: a look-up now could miss it for good.
          const lookupAt = item.lookupAfterMs + options.requestTimeoutMs + options.lookupDelayMs;
          if (Date.now() < lookupAt) {
            await erasures.reschedule(item, new Date(lookupAt), 'CRM_HUBSPOT_AMBIGUOUS', false);
            continue;
          }
        }
        for (const key of item.lookupKeys) {
          const contactId = item.contactId;
          const found =
            contactId === null
              ? null
              : await this.call(account, tenants, () =>
                  client.findNoteByMarker(token, contactId, key, () => this.acquire(account)),
                );
          let result: 'deleted' | 'gone' | null = null;
          if (found !== null) {
            result = await this.call(account, tenants, () => client.deleteNote(token, found));
            metrics.notesErased.inc({ outcome: result });
          }
          await erasures.lookupDone(item, key, result === 'deleted');
        }
        if (await erasures.finish(item))
          logger.info(
            { tenant: item.tenant, erasure: item.id, contactId: item.contactId },
            "erased customer's notes deleted in HubSpot; the contact is the tenant's to erase",
          );
      } catch (error) {
        if (error instanceof AccountBusy) {
          await erasures.reschedule(item, new Date(error.until), 'CRM_HUBSPOT_RATE_LIMITED', false);
          continue;
        }
        if (!(error instanceof CrmSyncError)) {
          if (this.stopped) return;
          throw error;
        }
        metrics.failures.inc({ code: error.code });
        const at =
          error.code === 'CRM_HUBSPOT_RATE_LIMITED'
            ? Date.now() + (error.details.retryAfterMs ?? 10_000)
            : error.code === 'CRM_HUBSPOT_DAILY_LIMIT' || error.code === 'CRM_HUBSPOT_UNAUTHORIZED'
              ? Date.now() + options.probeMs
              : Date.now() + backoffDelay(options.backoff, item.attempts, error.details.retryAfterMs);
        const counted = error.code !== 'CRM_HUBSPOT_RATE_LIMITED' && error.code !== 'CRM_HUBSPOT_DAILY_LIMIT';
        await erasures.reschedule(item, new Date(at), error.code, counted);
        logger.warn(
          { tenant: item.tenant, erasure: item.id, code: error.code, status: error.details.status },
          'deleting erased notes in HubSpot failed; rescheduled',
        );
      }
    }
  }

  /** Parked tenants (no token) whose token is there now get their rows back; at most every probe interval. */
  private async unparkTenants(): Promise<void> {
    const { store, tokens, logger } = this.deps;
    for (const tenant of await store.parkedTenants(1_000)) {
      const credentials = await tokens.tokenFor(tenant).catch(() => null);
      if (credentials === null) continue;
      const rows = await store.unparkTenant(tenant);
      logger.info({ tenant, rows }, "HubSpot token set: the tenant's parked work resumes");
    }
  }

  private async processAccount(
    account: string,
    token: string,
    tenants: string[],
    work: Work[],
    leaseEnd: number,
  ): Promise<void> {
    const { store } = this.deps;
    // Whether the account can be called (paused, broken, a probe due) was decided in process(), per tenant.

    // Contacts: one input per e-mail (HubSpot refuses duplicate ids in a batch), ≤ 100 per call.
    const inputs = new Map<string, ContactInput & { work: Work[] }>();
    for (const w of work) {
      const emailKey = w.snapshot.customerEmail.trim().toLowerCase();
      let input = inputs.get(emailKey);
      if (input === undefined) {
        input = {
          email: w.snapshot.customerEmail.trim(),
          properties: this.contactProperties(w.snapshot),
          traceId: `c${inputs.size}`,
          work: [],
        };
        inputs.set(emailKey, input);
      }
      input.work.push(w);
    }
    const withContact: { work: Work; contactId: string }[] = [];
    const all = [...inputs.entries()];
    for (let i = 0; i < all.length; i += 100) {
      const chunk = all.slice(i, i + 100);
      try {
        const outcome = await this.call(account, tenants, () =>
          this.deps.client.upsertContacts(
            token,
            chunk.map(([, c]) => c),
            () => this.acquire(account),
          ),
        );
        const known: { email: string; contactId: string }[] = [];
        for (const [, input] of chunk) {
          const id = outcome.ids.get(input.traceId);
          if (id !== undefined) {
            for (const w of input.work) {
              // the e-mail as projected: the schema's email_key keys it as crm.erase_chats will
              known.push({ email: w.snapshot.customerEmail, contactId: id });
              withContact.push({ work: w, contactId: id });
            }
            continue;
          }
          const refused = outcome.errors.get(input.traceId);
          for (const w of input.work)
            await this.deadLetter(w.item, {
              code: 'CRM_HUBSPOT_REJECTED',
              status: 207,
              message: refused?.message ?? 'contact refused',
              hubspotError: refused?.error,
            });
        }
        await store.rememberContacts(account, known);
      } catch (error) {
        await this.failed(
          chunk.flatMap(([, c]) => c.work.map((w) => w.item)),
          error,
        );
      }
    }

    // Notes, a few at a time; the bucket paces the calls. Near the lease's end the rest goes back to the queue
    // (another worker may claim it once the lease ends; a create would be refused by the claim check anyway).
    const margin = Math.min(this.deps.options.leaseMs / 4, 10_000);
    let next = 0;
    const runners = Array.from(
      { length: Math.min(this.deps.options.concurrency, withContact.length) },
      async () => {
        while (next < withContact.length && !this.stopped) {
          if (Date.now() >= leaseEnd - margin) {
            const rest = withContact.splice(next);
            for (const r of rest) await store.release(r.work.item);
            return;
          }
          const blockedUntil = this.deps.limits.blockedUntil(account);
          if (blockedUntil !== undefined) {
            // A 429 window: the rest waits in the queue until it ends, not in this pass (which would hold up
            // every other account's work, claimed with it or after it).
            const rest = withContact.splice(next).map((r) => r.work.item);
            await store.rescheduleClaimed(rest, new Date(blockedUntil), 'CRM_HUBSPOT_RATE_LIMITED');
            return;
          }
          const current = withContact[next++]!;
          await this.syncNote(account, token, tenants, current.work, current.contactId);
        }
      },
    );
    await Promise.all(runners);
  }

  private contactProperties(s: Snapshot): Record<string, string> {
    const properties: Record<string, string> = {
      email: s.customerEmail.trim(),
      ...splitName(s.customerName),
    };
    for (const [field, property] of Object.entries(this.deps.options.contactProperties)) {
      const value = s.sessionFields?.[field];
      if (typeof value === 'string' && value !== '') properties[property] = value;
      else if (typeof value === 'number' || typeof value === 'boolean') properties[property] = String(value);
    }
    return properties;
  }

  private async syncNote(
    account: string,
    token: string,
    tenants: string[],
    w: Work,
    contactId: string,
  ): Promise<void> {
    const { store, client, metrics, hooks, options } = this.deps;
    const { item, snapshot } = w;
    try {
      const rendered = renderNote(snapshot, options.noteMaxChars);
      const note = { body: rendered.body, timestamp: rendered.timestamp };
      const record = await store.noteRecord(item);
      const sameAccount = record !== null && record.account === account;
      // A note recorded under another account key is still this thread's note: the account key is a hash of the
      // token, and a replaced token (the fix for a 401) usually names the same portal. Updating it by id tells:
      // the same portal updates it (no second note); another portal answers 404, and the note is created there.
      let noteId = record?.noteId ?? null;
      let knownSha = sameAccount ? record.bodySha256 : null;
      let outcome: 'created' | 'updated' | 'unchanged' | 'found' = 'unchanged';

      // A create that may have happened (a timeout, a crash after the call): look for our note first.
      if (noteId === null && sameAccount && record.createStarted && record.contactId !== null) {
        const lookupAt = (record.createStartedAtMs ?? 0) + options.lookupDelayMs;
        if (Date.now() < lookupAt) {
          // Too early to trust "not found": the create may still land. Back then (not a failed attempt).
          await store.reschedule(item, new Date(lookupAt), 'CRM_HUBSPOT_AMBIGUOUS', false);
          return;
        }
        const lookupContact = record.contactId;
        // A bucket token per HTTP request: the look-up's first request takes call()'s, each further one its own.
        const pace = () => this.acquire(account);
        const found = await this.call(account, tenants, () =>
          client.findNoteByMarker(
            token,
            lookupContact,
            syncKey(item.tenant, item.chatId, item.threadId),
            pace,
          ),
        );
        metrics.lookups.inc({ found: String(found !== null) });
        if (found !== null) {
          noteId = found;
          knownSha = null;
          outcome = 'found';
          await store.recordNote(item, { account, contactId: lookupContact, noteId, bodySha256: null });
          metrics.closeToNote.observe(Math.max(0, (Date.now() - item.queuedAtMs) / 1000));
        }
      }

      if (noteId !== null && knownSha !== rendered.bodySha256) {
        const existing = noteId;
        const result = await this.call(account, tenants, () => client.updateNote(token, existing, note));
        if (result === 'gone') {
          await store.forgetNote(item);
          noteId = null;
        } else {
          await store.recordNote(item, {
            account,
            contactId: record?.contactId ?? contactId,
            noteId,
            bodySha256: rendered.bodySha256,
          });
          if (outcome === 'unchanged') outcome = 'updated';
        }
      }

      if (noteId === null) {
        let created: string;
        try {
          created = await this.call(
            account,
            tenants,
            () => client.createNote(token, { ...note, contactId }),
            // After the bucket's wait, right before the request: the claim must still hold, and is held
            // through the call, so no other worker can create this thread's note meanwhile.
            async () => {
              const held = await store.markCreateStarted(
                item,
                account,
                contactId,
                options.requestTimeoutMs + CREATE_HOLD_MARGIN_MS,
              );
              if (!held) throw new ClaimLost();
              await hooks?.beforeNoteCreate?.(item);
            },
          );
        } catch (error) {
          // An answer that says "not written" needs no look-up next time; silence or a 5xx does.
          if (error instanceof CrmSyncError && isCertainlyNotWritten(error))
            await store.clearCreateStarted(item);
          throw error;
        }
        await hooks?.afterNoteCreate?.(item, created);
        await store.recordNote(item, {
          account,
          contactId,
          noteId: created,
          bodySha256: rendered.bodySha256,
        });
        metrics.closeToNote.observe(Math.max(0, (Date.now() - item.queuedAtMs) / 1000));
        outcome = 'created';
      }

      metrics.threads.inc({ outcome });
      await store.complete(item);
    } catch (error) {
      if (error instanceof ClaimLost) {
        // Another worker holds the row now (this pass outlived its lease): its sync decides.
        this.deps.logger.debug({ chatId: item.chatId, threadId: item.threadId }, 'claim lost; row left');
        return;
      }
      await this.failed([item], error);
    }
  }

  /** One HubSpot call of an account: paced by its bucket; what HubSpot says about the account is recorded. */
  private async call<T>(
    account: string,
    tenants: string[],
    fn: () => Promise<T>,
    beforeSend?: () => Promise<void>,
  ): Promise<T> {
    const { limits, metrics, logger, store } = this.deps;
    await this.acquire(account);
    await beforeSend?.();
    try {
      const result = await fn();
      const previous = limits.succeeded(account);
      if (previous === 'paused' || previous === 'broken' || !this.confirmed.has(account)) {
        this.confirmed.add(account);
        this.paused.delete(account);
        this.broken.delete(account);
        this.gauges();
        if (previous === 'paused' || previous === 'broken')
          logger.info({ account, was: previous }, 'HubSpot account works again; its work resumes');
        await store.setConnection(tenants, account, 'ok', null, null);
        await this.deps.tokens.reportState?.(tenants, 'ok', null);
      }
      return result;
    } catch (error) {
      if (!(error instanceof CrmSyncError)) throw error;
      if (error.code === 'CRM_HUBSPOT_RATE_LIMITED') {
        metrics.rateLimited.inc({ policy: error.details.policy ?? 'TEN_SECONDLY_ROLLING' });
        limits.block(account, error.details.retryAfterMs ?? 10_000);
      } else if (error.code === 'CRM_HUBSPOT_DAILY_LIMIT') {
        metrics.rateLimited.inc({ policy: 'DAILY' });
        const until = limits.pause(account);
        if (!this.paused.has(account)) {
          this.paused.add(account);
          this.gauges();
          logger.warn(
            { account, until: new Date(until).toISOString() },
            "HubSpot daily limit reached: the account's work pauses until the reset",
          );
        }
        await store.setConnection(tenants, account, 'paused', error.code, new Date(until));
        await this.deps.tokens.reportState?.(tenants, 'paused', error.code);
      } else if (error.code === 'CRM_HUBSPOT_UNAUTHORIZED') {
        limits.breakConnection(account, error.code);
        if (!this.broken.has(account)) {
          this.broken.add(account);
          this.gauges();
          logger.error(
            { account, status: error.details.status, tenants: tenants.length },
            'HubSpot refused the token: CRM connection broken, work kept',
          );
        }
        await store.setConnection(tenants, account, 'broken', error.code, null);
        await this.deps.tokens.reportState?.(tenants, 'broken', error.code);
      }
      throw error;
    }
  }

  /** A token of the account's bucket, waiting at most MAX_ACQUIRE_WAIT_MS (else AccountBusy). */
  private acquire(account: string): Promise<void> {
    return this.deps.limits.acquire(account, this.abort.signal, MAX_ACQUIRE_WAIT_MS);
  }

  private gauges(): void {
    this.deps.metrics.accountsPaused.set(this.paused.size);
    this.deps.metrics.accountsBroken.set(this.broken.size);
  }

  /** What to do with rows whose sync failed: wait a window, back off, or dead-letter. */
  private async failed(items: readonly ClaimedItem[], error: unknown): Promise<void> {
    const { store, metrics, options, logger } = this.deps;
    if (error instanceof AccountBusy) {
      // The account's bucket or 429 window would have held this pass too long: back when it is free.
      await store.rescheduleClaimed(items, new Date(error.until), 'CRM_HUBSPOT_RATE_LIMITED');
      return;
    }
    if (error instanceof CrmSyncError && error.code === 'CRM_HUBSPOT_RATE_LIMITED') {
      metrics.failures.inc({ code: error.code }, items.length);
      await store.rescheduleClaimed(
        items,
        new Date(Date.now() + (error.details.retryAfterMs ?? 10_000)),
        error.code,
      );
      return;
    }
    if (!(error instanceof CrmSyncError)) {
      if (this.stopped) return;
      throw error;
    }
    metrics.failures.inc({ code: error.code }, items.length);
    for (const item of items) {
      switch (error.code) {
        case 'CRM_HUBSPOT_REJECTED':
          await this.deadLetter(item, {
            code: error.code,
            ...(error.details.status === undefined ? {} : { status: error.details.status }),
            message: error.message,
            hubspotError: error.details.hubspotError,
          });
          break;
        case 'CRM_HUBSPOT_DAILY_LIMIT':
        case 'CRM_HUBSPOT_UNAUTHORIZED':
          await store.reschedule(item, new Date(Date.now() + options.probeMs), error.code, false);
          break;
        default: {
          const delay = backoffDelay(options.backoff, item.attempts, error.details.retryAfterMs);
          await store.reschedule(item, new Date(Date.now() + delay), error.code, true);
        }
      }
    }
    logger.warn(
      { code: error.code, status: error.details.status, threads: items.length },
      'HubSpot sync failed; rescheduled',
    );
  }

  private async deadLetter(
    item: ClaimedItem,
    failure: { code: string; status?: number; message: string; hubspotError?: unknown },
  ): Promise<void> {
    await this.deps.store.deadLetter(item, failure);
    this.deps.metrics.deadLetters.inc();
    this.deps.logger.warn(
      {
        code: failure.code,
        status: failure.status,
        tenant: item.tenant,
        chatId: item.chatId,
        threadId: item.threadId,
      },
      'thread moved to crm.dead_letters',
    );
  }
}

/**
 * The longest a call waits for its account's bucket or 429 window inside a pass; a longer wait gives the row
 * back to the queue until then, so one rate-limited account never holds up the other accounts' work.
 */
const MAX_ACQUIRE_WAIT_MS = 2_000;

/** A note create holds its row this long past HUBSPOT_TIMEOUT_MS (the database round trips around the call). */
const CREATE_HOLD_MARGIN_MS = 2_000;

/** This worker's claim of a row ended (its lease ran out and another worker may hold the row). */
class ClaimLost extends Error {
  override readonly name = 'ClaimLost';
}

function isCertainlyNotWritten(error: CrmSyncError): boolean {
  return (
    error.code === 'CRM_HUBSPOT_RATE_LIMITED' ||
    error.code === 'CRM_HUBSPOT_DAILY_LIMIT' ||
    error.code === 'CRM_HUBSPOT_UNAUTHORIZED' ||
    error.code === 'CRM_HUBSPOT_REJECTED' ||
    (error.code === 'CRM_HUBSPOT_UNAVAILABLE' && error.details.status === 423)
  );
}

/** Exponential backoff with "equal jitter": half fixed, half random, so retries of many rows spread out. */
export function backoffDelay(
  policy: { readonly initialMs: number; readonly maxMs: number },
  attempt: number,
  atLeastMs = 0,
  random: () => number = Math.random,
): number {
  const base = Math.min(policy.maxMs, policy.initialMs * 2 ** Math.min(attempt, 30));
  return Math.max(atLeastMs, Math.round(base / 2 + (random() * base) / 2));
}

function errorSummary(error: unknown): { code?: string; message: string } {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return { ...(typeof code === 'string' ? { code } : {}), message: error.message.slice(0, 200) };
  }
  return { message: String(error).slice(0, 200) };
}
