import { createHmac, randomBytes, randomUUID } from 'node:crypto';
import type pg from 'pg';
import type { PrivacyConfig } from './config.js';
import { ChatKey, decryptField, encryptField } from './envelope.js';
import { PrivacyError, isPrivacyError } from './errors.js';
import { KeyRing } from './keyring.js';
import { LruCache } from './lru.js';
import { quoteSchema } from './migrations.js';

/** What the store knows of one chat's key. */
export type ChatKeyState =
  | { readonly state: 'active'; readonly key: ChatKey }
  /** Crypto-shredded: personal data of this chat is unreadable and must not be written again. */
  | { readonly state: 'erased'; readonly erasedAt: Date }
  /** No key yet (only when asked without `create`): nothing of this chat was ever encrypted. */
  | { readonly state: 'absent' };

/** Whom an erasure or a look-up is about. */
export type CustomerSubject = { readonly customerId: string } | { readonly email: string };

/** A chat and what the ingest or normalizer learned of its customer (either may come late). */
export interface CustomerLink {
  readonly chatId: string;
  readonly customerId?: string | undefined;
  readonly email?: string | undefined;
}

export interface ErasureRequest {
  /** Makes the erasure idempotent: the same id again returns the first result and changes nothing. */
  readonly requestId?: string;
  /** Who asked (an admin key id, an operator name, `retention`); never the data subject. */
  readonly actor: string;
}

export interface ErasureResult {
  readonly requestId: string;
  /** Chats named (or found for the customer). */
  readonly chats: number;
  /** Live keys erased now. */
  readonly keysErased: number;
  /** Tombstones written for chats that had no key yet (a later first sight must not create one). */
  readonly tombstonesCreated: number;
  /** Chat-customer index rows deleted. */
  readonly customerLinksDeleted: number;
  /** True when this request id was already done: nothing changed, the counts are the first run's. */
  readonly alreadyDone: boolean;
}

/** One row of `privacy.erasure_audit` (`erasuresOf`). */
export interface ErasureAuditEntry {
  readonly requestId: string;
  readonly actor: string;
  readonly kind: 'customer_id' | 'email' | 'chats' | 'retention';
  readonly requestedAt: string;
  readonly chats: number;
  readonly keysErased: number;
  readonly tombstonesCreated: number;
  readonly customerLinksDeleted: number;
  /** Rows each projection removed, summed over the runs and the sweep. */
  readonly projections: Readonly<Record<string, number>>;
  /** When the post-TTL sweep ran (null: not yet). */
  readonly sweptAt: string | null;
}

export interface RewrapResult {
  readonly rewrapped: number;
  /** Live keys per KEK id after the run (the active id only, when it is safe to remove the others). */
  readonly keysByKekId: Record<string, number>;
}

export interface VaultStats {
  readonly cache: { hits: number; misses: number; evictions: number; expirations: number; size: number };
  readonly keysCreated: number;
  readonly queries: number;
}

type Config = Pick<
  PrivacyConfig,
  'keys' | 'activeKeyId' | 'emailHashKey' | 'cacheSize' | 'cacheTtlMs' | 'schema'
>;

const ID_MAX = 256;
const EMAIL_MAX = 320;
const ACTOR_MAX = 200;
/** The most chats one call may name: one query's worth, far above a consumer batch. */
export const MAX_CHATS_PER_CALL = 10_000;
/**
 * The statement timeout of an erasure's transactions (the vault's and each projection step's), set for the
 * transaction alone: the pool may be a read pool whose short `statement_timeout` a heavy customer would hit.
 */
export const ERASE_STATEMENT_TIMEOUT_MS = 600_000;

interface KeyRow {
  chat_id: string;
  /** last_seen_at is before today: a first use today touches it (retention counts from last activity). */
  seen_before_today: boolean;
  key_version: number;
  kek_id: string | null;
  wrapped_key: Buffer | null;
  erased_at: Date | null;
}

/**
 * The key store: a data key per (tenant, chat) in Postgres, wrapped by the tenant's KEK, unwrapped keys in a
 * bounded LRU; the chat-customer index; erasure with tombstones and an audit row. Safe under many processes:
 * every creation is INSERT … ON CONFLICT DO NOTHING followed by a read, so racing processes agree on one key,
 * and an erasure writes its tombstones before it erases, so a racing creation is erased too.
 */
export class PrivacyVault {
  private readonly keyRing: KeyRing;
  private readonly cache: LruCache<ChatKeyState>;
  private readonly s: string;
  private keysCreated = 0;
  private queries = 0;

  constructor(
    private readonly pool: pg.Pool,
    private readonly config: Config,
    options: { now?: () => number } = {},
  ) {
    this.keyRing = new KeyRing(config);
    this.cache = new LruCache<ChatKeyState>(config.cacheSize, config.cacheTtlMs, options.now);
    this.s = quoteSchema(config.schema);
  }

  /**
   * The key state of many chats of one tenant in at most three queries (none when every key is cached, one when
   * every key exists), plus, with `create`, one a day per chat to move its last activity (retention).
   * With `create`, a chat seen for the first time gets a key; an erased chat stays erased.
   */
  async keysFor(
    tenantId: string,
    chatIds: readonly string[],
    options: {
      create: boolean;
      /**
       * When the records asking were received (a replay's are old): a new key's last activity is this, and an
       * existing key's moves forward to it, never to now. Without it, now (live traffic).
       */
      seenAt?: Date;
    },
  ): Promise<Map<string, ChatKeyState>> {
    checkId('tenant id', tenantId);
    if (chatIds.length > MAX_CHATS_PER_CALL)
      throw new PrivacyError('PRIVACY_INVALID_ARGUMENT', `at most ${MAX_CHATS_PER_CALL} chats per call`);
    const result = new Map<string, ChatKeyState>();
    const misses: string[] = [];
    for (const chatId of new Set(chatIds)) {
      checkId('chat id', chatId);
      const cached = this.cache.get(cacheKey(tenantId, chatId));
      if (cached === undefined) misses.push(chatId);
      else result.set(chatId, cached);
    }
    if (misses.length === 0) return result;

    const rows = await this.selectKeys(tenantId, misses);
    if (options.create) {
      const found = new Set(rows.map((r) => r.chat_id));
      // Keys inserted just now carry their last activity already (seenAt or now): only those found move.
      const existing = rows.length;
      const absent = misses.filter((c) => !found.has(c));
      if (absent.length > 0) {
        await this.insertKeys(tenantId, absent, options.seenAt);
        rows.push(...(await this.selectKeys(tenantId, absent)));
      }
      const stale = rows
        .slice(0, existing)
        .filter((r) => r.seen_before_today && r.erased_at === null)
        .map((r) => r.chat_id);
      if (stale.length > 0 && options.seenAt !== undefined)
        await this.query(
          `update ${this.s}.chat_keys set last_seen_at = $3
            where tenant_id = $1 and chat_id = any($2::text[]) and erased_at is null and last_seen_at < $3`,
          [tenantId, stale, options.seenAt],
        );
      else if (stale.length > 0)
        await this.query(
          `update ${this.s}.chat_keys set last_seen_at = now()
            where tenant_id = $1 and chat_id = any($2::text[]) and erased_at is null and last_seen_at < current_date`,
          [tenantId, stale],
        );
    }
    for (const row of rows) {
      const state = this.stateOf(tenantId, row);
      this.cache.set(cacheKey(tenantId, row.chat_id), state);
      result.set(row.chat_id, state);
    }
    for (const chatId of misses) if (!result.has(chatId)) result.set(chatId, { state: 'absent' });
    return result;
  }

  /** One chat's key; PRIVACY_KEY_ERASED when erased, PRIVACY_KEY_UNAVAILABLE when absent (without `create`). */
  async keyFor(tenantId: string, chatId: string, options: { create: boolean }): Promise<ChatKey> {
    return requireKey(tenantId, chatId, (await this.keysFor(tenantId, [chatId], options)).get(chatId)!);
  }

  /** `encryptField` with the chat's key, created on first sight. */
  async encryptField(tenantId: string, chatId: string, field: string, value: string): Promise<Buffer> {
    return encryptField(await this.keyFor(tenantId, chatId, { create: true }), field, value);
  }

  /** `decryptField` with the chat's key; PRIVACY_KEY_ERASED once the chat is erased. */
  async decryptField(tenantId: string, chatId: string, field: string, envelope: Uint8Array): Promise<string> {
    return decryptField(await this.keyFor(tenantId, chatId, { create: false }), field, envelope);
  }

  /**
   * Records who the customer of each chat is: the customer id as is, the e-mail only as an HMAC (trimmed,
   * lower-cased, keyed by PRIVACY_EMAIL_HASH_KEY and bound to the tenant). Idempotent. Links of erased chats
   * are not recorded. Call it after `keysFor(…, { create: true })` for the same chats, so that a racing
   * erasure, which locks the key rows, cannot miss a link.
   */
  async recordCustomers(tenantId: string, links: readonly CustomerLink[]): Promise<number> {
    checkId('tenant id', tenantId);
    if (links.length > MAX_CHATS_PER_CALL)
      throw new PrivacyError('PRIVACY_INVALID_ARGUMENT', `at most ${MAX_CHATS_PER_CALL} links per call`);
    const chats: string[] = [];
    const kinds: string[] = [];
    const subjects: string[] = [];
    for (const link of links) {
      checkId('chat id', link.chatId);
      if (link.customerId !== undefined && link.customerId !== '') {
        checkId('customer id', link.customerId);
        chats.push(link.chatId);
        kinds.push('customer_id');
        subjects.push(link.customerId);
      }
      if (link.email !== undefined && link.email.trim() !== '') {
        chats.push(link.chatId);
        kinds.push('email_hmac');
        subjects.push(this.emailHmac(tenantId, link.email));
      }
    }
    if (chats.length === 0) return 0;
    return this.transaction(async (client) => {
      // Shares the key rows an erasure updates: the two serialise, and an erased chat gets no link.
      await client.query(
        `select 1 from ${this.s}.chat_keys where tenant_id = $1 and chat_id = any($2::text[]) for share`,
        [tenantId, [...new Set(chats)]],
      );
      const inserted = await client.query(
        `insert into ${this.s}.chat_customers (tenant_id, subject_kind, subject, chat_id)
         select $1, u.kind, u.subject, u.chat
           from unnest($2::text[], $3::text[], $4::text[]) as u(chat, kind, subject)
          where not exists (select 1 from ${this.s}.chat_keys k
                             where k.tenant_id = $1 and k.chat_id = u.chat and k.erased_at is not null)
         on conflict do nothing`,
        [tenantId, chats, kinds, subjects],
      );
      return inserted.rowCount ?? 0;
    });
  }

  /** The chats recorded for a customer id or an e-mail (by its HMAC), sorted. */
  async findChatsOfCustomer(tenantId: string, subject: CustomerSubject): Promise<string[]> {
    const [kind, value] = this.subjectKey(tenantId, subject);
    const rows = await this.query<{ chat_id: string }>(
      `select chat_id from ${this.s}.chat_customers
        where tenant_id = $1 and subject_kind = $2 and subject = $3 order by chat_id`,
      [tenantId, kind, value],
    );
    return rows.map((r) => r.chat_id);
  }

  /** The index's key of a subject: its kind and the customer id or the e-mail's HMAC (checked). */
  private subjectKey(tenantId: string, subject: CustomerSubject): [kind: string, value: string] {
    checkId('tenant id', tenantId);
    return 'customerId' in subject
      ? ['customer_id', (checkId('customer id', subject.customerId), subject.customerId)]
      : ['email_hmac', this.emailHmac(tenantId, subject.email)];
  }

  /**
   * Erases every chat recorded for the customer (see `eraseChats`), however many: the chats are selected inside
   * the erasure's transaction (after its lock, their index rows locked), so a chat linked meanwhile either
   * commits first and is erased too, or waits for the erasure; and they are erased in slices of
   * MAX_CHATS_PER_CALL under the one request id and audit row.
   */
  async eraseCustomer(
    tenantId: string,
    subject: CustomerSubject,
    request: ErasureRequest,
  ): Promise<ErasureResult> {
    return this.erase(
      tenantId,
      { subject: this.subjectKey(tenantId, subject) },
      'customerId' in subject ? 'customer_id' : 'email',
      request,
    );
  }

  /**
   * Crypto-shreds chats: their wrapped keys are deleted (the rows stay as tombstones, so no key is ever created
   * for them again), chats never seen get a tombstone too, their customer links are deleted, and one audit row
   * records who asked and the counts — never the subject. Idempotent per request id. Other processes may keep
   * using a cached key for up to PRIVACY_KEY_CACHE_TTL_MS.
   */
  async eraseChats(
    tenantId: string,
    chatIds: readonly string[],
    request: ErasureRequest & { readonly reason?: 'chats' | 'retention' },
  ): Promise<ErasureResult> {
    return this.erase(tenantId, { chatIds }, request.reason ?? 'chats', request);
  }

  private async erase(
    tenantId: string,
    target: { readonly chatIds: readonly string[] } | { readonly subject: [kind: string, value: string] },
    subjectKind: 'customer_id' | 'email' | 'chats' | 'retention',
    request: ErasureRequest,
  ): Promise<ErasureResult> {
    checkId('tenant id', tenantId);
    let chats = 'chatIds' in target ? [...new Set(target.chatIds)] : [];
    if (chats.length > MAX_CHATS_PER_CALL)
      throw new PrivacyError('PRIVACY_INVALID_ARGUMENT', `at most ${MAX_CHATS_PER_CALL} chats per erasure`);
    for (const c of chats) checkId('chat id', c);
    const requestId = request.requestId ?? randomUUID();
    checkId('request id', requestId);
    if (request.actor.trim() === '' || request.actor.length > ACTOR_MAX)
      throw new PrivacyError('PRIVACY_INVALID_ARGUMENT', `actor must be 1-${ACTOR_MAX} characters`);

    const result = await this.transaction(async (client): Promise<ErasureResult> => {
      await client.query(`select set_config('statement_timeout', $1, true)`, [
        String(ERASE_STATEMENT_TIMEOUT_MS),
      ]);
      await client.query('select pg_advisory_xact_lock(hashtext($1))', [`privacy-erasure:${requestId}`]);
      const done = await client.query<{
        tenant_id: string;
        chats: number;
        keys_erased: number;
        tombstones_created: number;
        customer_links_deleted: number;
      }>(`select * from ${this.s}.erasure_audit where request_id = $1`, [requestId]);
      const previous = done.rows[0];
      if (previous !== undefined) {
        if (previous.tenant_id !== tenantId)
          throw new PrivacyError(
            'PRIVACY_INVALID_ARGUMENT',
            `request id ${requestId} belongs to another tenant`,
          );
        return {
          requestId,
          chats: previous.chats,
          keysErased: previous.keys_erased,
          tombstonesCreated: previous.tombstones_created,
          customerLinksDeleted: previous.customer_links_deleted,
          alreadyDone: true,
        };
      }
      if ('subject' in target) {
        // The key scopes linked to the subject, and the customer's scopes that are no chat (ticket:, customer:,
        // visitor:, as the normalizer records them) linked to any other identifier of those: a ticket raised
        // from the customer's chat is linked by its requester e-mail only, so erasing by customer id finds it
        // through the e-mail recorded for the chat. Other chats sharing only an e-mail are not taken.
        const found = await client.query<{ chat_id: string }>(
          `with direct as (
             select chat_id from ${this.s}.chat_customers
              where tenant_id = $1 and subject_kind = $2 and subject = $3),
           identifiers as (
             select distinct subject_kind, subject from ${this.s}.chat_customers
              where tenant_id = $1 and chat_id in (select chat_id from direct))
           select chat_id from ${this.s}.chat_customers
            where tenant_id = $1
              and (chat_id in (select chat_id from direct)
                   or ((subject_kind, subject) in (select subject_kind, subject from identifiers)
                       and (chat_id like 'ticket:%' or chat_id like 'customer:%' or chat_id like 'visitor:%')))
            order by chat_id for update`,
          [tenantId, ...target.subject],
        );
        chats = [...new Set(found.rows.map((r) => r.chat_id))];
      }
      const counts = { chats: chats.length, keysErased: 0, tombstonesCreated: 0, customerLinksDeleted: 0 };
      for (let at = 0; at < chats.length; at += MAX_CHATS_PER_CALL) {
        const slice = chats.slice(at, at + MAX_CHATS_PER_CALL);
        // Tombstones first: a creation racing with this erasure either committed before (its row is then
        // erased by the update below) or conflicts with the tombstone and reads it as erased.
        const tombstones = await client.query(
          `insert into ${this.s}.chat_keys (tenant_id, chat_id, erased_at, erasure_request_id)
           select $1, c, now(), $3 from unnest($2::text[]) as c
           on conflict do nothing`,
          [tenantId, slice, requestId],
        );
        const erased = await client.query(
          `update ${this.s}.chat_keys
              set wrapped_key = null, kek_id = null, erased_at = now(), erasure_request_id = $3
            where tenant_id = $1 and chat_id = any($2::text[]) and erased_at is null`,
          [tenantId, slice, requestId],
        );
        const links = await client.query(
          `delete from ${this.s}.chat_customers where tenant_id = $1 and chat_id = any($2::text[])`,
          [tenantId, slice],
        );
        counts.keysErased += erased.rowCount ?? 0;
        counts.tombstonesCreated += tombstones.rowCount ?? 0;
        counts.customerLinksDeleted += links.rowCount ?? 0;
      }
      await client.query(
        `insert into ${this.s}.erasure_audit
           (request_id, tenant_id, actor, subject_kind, chats, keys_erased, tombstones_created, customer_links_deleted)
         values ($1, $2, $3, $4, $5, $6, $7, $8)`,
        [
          requestId,
          tenantId,
          request.actor,
          subjectKind,
          counts.chats,
          counts.keysErased,
          counts.tombstonesCreated,
          counts.customerLinksDeleted,
        ],
      );
      return { requestId, ...counts, alreadyDone: false };
    });
    for (const c of chats) this.cache.delete(cacheKey(tenantId, c));
    return result;
  }

  /**
   * Re-wraps every live data key whose KEK id is not the active one, in batches (rows locked, SKIP LOCKED, so
   * several runs can share the work). Data keys and ciphertexts do not change. When it returns only the active
   * id in `keysByKekId`, the old master keys can be removed from PRIVACY_KEYS.
   */
  async rewrap(options: { batchSize?: number } = {}): Promise<RewrapResult> {
    const batchSize = options.batchSize ?? 500;
    const active = this.keyRing.activeKeyId;
    let rewrapped = 0;
    for (;;) {
      const n = await this.transaction(async (client) => {
        const batch = await client.query<KeyRow & { tenant_id: string }>(
          `select tenant_id, chat_id, key_version, kek_id, wrapped_key, erased_at from ${this.s}.chat_keys
            where erased_at is null and kek_id <> $1
            order by tenant_id, chat_id limit $2 for update skip locked`,
          [active, batchSize],
        );
        if (batch.rows.length === 0) return 0;
        const tenants: string[] = [];
        const chats: string[] = [];
        const wrapped: Buffer[] = [];
        for (const row of batch.rows) {
          const ctx = { tenantId: row.tenant_id, chatId: row.chat_id, version: row.key_version };
          const material = this.keyRing.unwrap(row.kek_id!, row.wrapped_key!, ctx);
          tenants.push(row.tenant_id);
          chats.push(row.chat_id);
          wrapped.push(this.keyRing.wrap(material, ctx).wrapped);
        }
        await client.query(
          `update ${this.s}.chat_keys k set kek_id = $1, wrapped_key = u.wrapped, rewrapped_at = now()
             from unnest($2::text[], $3::text[], $4::bytea[]) as u(tenant_id, chat_id, wrapped)
            where k.tenant_id = u.tenant_id and k.chat_id = u.chat_id and k.erased_at is null`,
          [active, tenants, chats, wrapped],
        );
        return batch.rows.length;
      });
      rewrapped += n;
      if (n === 0) break;
    }
    return { rewrapped, keysByKekId: await this.keysByKekId() };
  }

  /** Live data keys per KEK id: tells when an old master key is no longer needed. */
  async keysByKekId(): Promise<Record<string, number>> {
    const rows = await this.query<{ kek_id: string; n: string }>(
      `select kek_id, count(*) as n from ${this.s}.chat_keys where erased_at is null group by kek_id order by kek_id`,
      [],
    );
    return Object.fromEntries(rows.map((r) => [r.kek_id, Number(r.n)]));
  }

  /** Sets a tenant's retention in days (null: back to the global default). */
  async setRetention(tenantId: string, days: number | null): Promise<void> {
    checkId('tenant id', tenantId);
    if (days === null) {
      await this.query(`delete from ${this.s}.tenant_retention where tenant_id = $1`, [tenantId]);
      return;
    }
    if (!Number.isInteger(days) || days < 1 || days > 36_500)
      throw new PrivacyError('PRIVACY_INVALID_ARGUMENT', 'retention days must be an integer from 1 to 36500');
    await this.query(
      `insert into ${this.s}.tenant_retention (tenant_id, days) values ($1, $2)
       on conflict (tenant_id) do update set days = excluded.days, updated_at = now()`,
      [tenantId, days],
    );
  }

  /**
   * Erases every chat whose last activity is older than its tenant's retention (`tenant_retention`, else
   * `defaultDays`; null: only tenants with their own setting), in batches of `batchSize`, one audited erasure
   * (actor `retention`) per tenant and batch. `onErased` runs after each (erase the projections there) and
   * before the next batch is chosen. Safe to run in several processes: erased rows drop out of the query.
   */
  async runRetention(options: {
    defaultDays: number | null;
    batchSize?: number;
    onErased?: (tenantId: string, chatIds: readonly string[], result: ErasureResult) => Promise<void>;
  }): Promise<{ erasures: number; keysErased: number }> {
    const batchSize = Math.min(options.batchSize ?? 1000, MAX_CHATS_PER_CALL);
    if (options.defaultDays !== null && (!Number.isInteger(options.defaultDays) || options.defaultDays < 1))
      throw new PrivacyError('PRIVACY_INVALID_ARGUMENT', 'default retention days must be an integer >= 1');
    let erasures = 0;
    let keysErased = 0;
    for (;;) {
      const due = await this.query<{ tenant_id: string; chat_id: string }>(
        `select k.tenant_id, k.chat_id from ${this.s}.chat_keys k
           left join ${this.s}.tenant_retention r on r.tenant_id = k.tenant_id
          where k.erased_at is null
            and coalesce(r.days, $1::int) is not null
            and k.last_seen_at < now() - make_interval(days => coalesce(r.days, $1::int))
          order by k.tenant_id, k.chat_id limit $2`,
        [options.defaultDays, batchSize],
      );
      if (due.length === 0) break;
      const byTenant = new Map<string, string[]>();
      for (const row of due)
        byTenant.set(row.tenant_id, [...(byTenant.get(row.tenant_id) ?? []), row.chat_id]);
      for (const [tenantId, chatIds] of byTenant) {
        const result = await this.eraseChats(tenantId, chatIds, { actor: 'retention', reason: 'retention' });
        erasures++;
        keysErased += result.keysErased;
        await options.onErased?.(tenantId, chatIds, result);
      }
    }
    return { erasures, keysErased };
  }

  /** The chats an erasure request erased (its tombstones), to erase them from the projections. */
  async chatsOfErasure(requestId: string): Promise<{ tenantId: string; chatIds: string[] } | null> {
    checkId('request id', requestId);
    const audit = await this.query<{ tenant_id: string }>(
      `select tenant_id from ${this.s}.erasure_audit where request_id = $1`,
      [requestId],
    );
    if (audit[0] === undefined) return null;
    const rows = await this.query<{ chat_id: string }>(
      `select chat_id from ${this.s}.chat_keys where tenant_id = $1 and erasure_request_id = $2 order by chat_id`,
      [audit[0].tenant_id, requestId],
    );
    return { tenantId: audit[0].tenant_id, chatIds: rows.map((r) => r.chat_id) };
  }

  /**
   * Erasure requests older than `olderThanMs` (give PRIVACY_KEY_CACHE_TTL_MS) whose projections were not swept
   * yet: a process that still held a key may have written a personal value after the first pass. Oldest first.
   */
  async erasuresDueForSweep(olderThanMs: number, limit = 100): Promise<string[]> {
    const rows = await this.query<{ request_id: string }>(
      `select request_id from ${this.s}.erasure_audit
        where swept_at is null and requested_at < now() - make_interval(secs => $1::double precision / 1000)
        order by requested_at limit $2`,
      [olderThanMs, limit],
    );
    return rows.map((r) => r.request_id);
  }

  /**
   * Adds the rows a projection removed to the audit (`{ transcripts: 12, … }`, summed per key); with `swept`,
   * marks the request swept (its last pass).
   */
  async recordProjectionCounts(
    requestId: string,
    counts: Readonly<Record<string, number>>,
    options: { swept: boolean },
  ): Promise<void> {
    checkId('request id', requestId);
    await this.query(
      `update ${this.s}.erasure_audit a
          set projection_counts = (
                select coalesce(jsonb_object_agg(k, coalesce((a.projection_counts ->> k)::bigint, 0) + coalesce((n.c ->> k)::bigint, 0)), '{}'::jsonb)
                  from jsonb_object_keys(a.projection_counts || n.c) as k),
              swept_at = case when $3 then now() else a.swept_at end
         from (select $2::jsonb as c) n
        where a.request_id = $1`,
      [requestId, JSON.stringify(counts), options.swept],
    );
  }

  /** A tenant's erasure audit, newest first: who, when, what kind, counts; never the subject. */
  async erasuresOf(tenantId: string, limit = 100): Promise<ErasureAuditEntry[]> {
    checkId('tenant id', tenantId);
    const rows = await this.query<{
      request_id: string;
      actor: string;
      subject_kind: ErasureAuditEntry['kind'];
      requested_at: Date;
      chats: number;
      keys_erased: number;
      tombstones_created: number;
      customer_links_deleted: number;
      projection_counts: Record<string, number>;
      swept_at: Date | null;
    }>(
      `select request_id, actor, subject_kind, requested_at, chats, keys_erased, tombstones_created,
              customer_links_deleted, projection_counts, swept_at
         from ${this.s}.erasure_audit where tenant_id = $1 order by requested_at desc, request_id limit $2`,
      [tenantId, Math.max(1, Math.min(limit, 10_000))],
    );
    return rows.map((r) => ({
      requestId: r.request_id,
      actor: r.actor,
      kind: r.subject_kind,
      requestedAt: r.requested_at.toISOString(),
      chats: r.chats,
      keysErased: r.keys_erased,
      tombstonesCreated: r.tombstones_created,
      customerLinksDeleted: r.customer_links_deleted,
      projections: r.projection_counts,
      sweptAt: r.swept_at === null ? null : r.swept_at.toISOString(),
    }));
  }

  stats(): VaultStats {
    return { cache: this.cache.stats(), keysCreated: this.keysCreated, queries: this.queries };
  }

  private emailHmac(tenantId: string, email: string): string {
    const normalised = email.trim().toLowerCase();
    if (normalised === '' || normalised.length > EMAIL_MAX)
      throw new PrivacyError('PRIVACY_INVALID_ARGUMENT', `e-mail must be 1-${EMAIL_MAX} characters`);
    return createHmac('sha256', this.config.emailHashKey)
      .update(JSON.stringify([tenantId, normalised]))
      .digest('hex');
  }

  private stateOf(tenantId: string, row: KeyRow): ChatKeyState {
    if (row.erased_at !== null) return { state: 'erased', erasedAt: row.erased_at };
    const material = this.keyRing.unwrap(row.kek_id!, row.wrapped_key!, {
      tenantId,
      chatId: row.chat_id,
      version: row.key_version,
    });
    return { state: 'active', key: new ChatKey(tenantId, row.chat_id, row.key_version, material) };
  }

  private async selectKeys(tenantId: string, chatIds: readonly string[]): Promise<KeyRow[]> {
    return this.query<KeyRow>(
      `select chat_id, key_version, kek_id, wrapped_key, erased_at, last_seen_at < current_date as seen_before_today
         from ${this.s}.chat_keys where tenant_id = $1 and chat_id = any($2::text[])`,
      [tenantId, chatIds],
    );
  }

  private async insertKeys(tenantId: string, unsorted: readonly string[], seenAt?: Date): Promise<void> {
    // Rows in one order for every process: two inserts of overlapping chats in different orders would each wait
    // for a row the other holds (a deadlock, 40P01) instead of one waiting for the other.
    const chatIds = [...unsorted].sort();
    const kekIds: string[] = [];
    const wrapped: Buffer[] = [];
    for (const chatId of chatIds) {
      const w = this.keyRing.wrap(randomBytes(32), { tenantId, chatId, version: 1 });
      kekIds.push(w.keyId);
      wrapped.push(w.wrapped);
    }
    const inserted = await this.query(
      `insert into ${this.s}.chat_keys (tenant_id, chat_id, key_version, kek_id, wrapped_key, last_seen_at)
       select $1, u.chat_id, 1, u.kek_id, u.wrapped, coalesce($5::timestamptz, now())
         from unnest($2::text[], $3::text[], $4::bytea[]) as u(chat_id, kek_id, wrapped)
       on conflict do nothing returning 1`,
      [tenantId, chatIds, kekIds, wrapped, seenAt ?? null],
    );
    this.keysCreated += inserted.length;
  }

  private async query<R extends pg.QueryResultRow>(sql: string, params: unknown[]): Promise<R[]> {
    this.queries++;
    try {
      return (await this.pool.query<R>(sql, params)).rows;
    } catch (err) {
      throw unavailable(err);
    }
  }

  private async transaction<T>(work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    let client: pg.PoolClient;
    try {
      client = await this.pool.connect();
    } catch (err) {
      throw unavailable(err);
    }
    let lost: Error | undefined;
    const onError = (error: Error): void => {
      lost ??= error;
    };
    client.on('error', onError);
    try {
      this.queries++;
      await client.query('begin');
      const value = await work(client);
      await client.query('commit');
      return value;
    } catch (err) {
      await client.query('rollback').catch(() => undefined);
      throw unavailable(err);
    } finally {
      client.off('error', onError);
      client.release(lost);
    }
  }
}

/** The key of a state, or the typed error a caller acts on (erased: skip, not retryable; absent: retry). */
export function requireKey(tenantId: string, chatId: string, state: ChatKeyState): ChatKey {
  if (state.state === 'active') return state.key;
  if (state.state === 'erased')
    throw new PrivacyError('PRIVACY_KEY_ERASED', `chat ${chatId} of tenant ${tenantId} was erased`);
  throw new PrivacyError(
    'PRIVACY_KEY_UNAVAILABLE',
    `no data key for chat ${chatId} of tenant ${tenantId} (the key store is behind the log?)`,
  );
}

function cacheKey(tenantId: string, chatId: string): string {
  return `${tenantId}\u0000${chatId}`;
}

function checkId(what: string, value: string): void {
  if (typeof value !== 'string' || value === '' || value.length > ID_MAX)
    throw new PrivacyError('PRIVACY_INVALID_ARGUMENT', `${what} must be 1-${ID_MAX} characters`);
}

/** A Postgres failure as a retryable PRIVACY_KEY_UNAVAILABLE; a PrivacyError as it is. */
function unavailable(err: unknown): PrivacyError {
  if (isPrivacyError(err)) return err;
  return new PrivacyError('PRIVACY_KEY_UNAVAILABLE', `key store: ${(err as Error).message}`, { cause: err });
}
