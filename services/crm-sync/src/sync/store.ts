import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import type { NoteEntry, ThreadSnapshot } from './note.js';
import { withPoolClient } from '../pg-client.js';

/** One claimed outbox row. */
export interface ClaimedItem {
  readonly tenant: string;
  readonly chatId: string;
  readonly threadId: string;
  readonly version: string;
  readonly attempts: number;
  /** The claim's holder: every write of the row checks it, so a worker whose lease ran out writes nothing. */
  readonly claimToken: string;
  /** When the consumer first recorded the intent (the close as seen by the pipeline), epoch ms. */
  readonly queuedAtMs: number;
}

export interface NoteRecord {
  readonly account: string;
  readonly contactId: string | null;
  readonly noteId: string | null;
  readonly bodySha256: string | null;
  readonly createStarted: boolean;
  /** When the last create started (epoch ms), if one may have happened. */
  readonly createStartedAtMs: number | null;
}

export interface Snapshot extends ThreadSnapshot {
  readonly sessionFields: Readonly<Record<string, unknown>> | null;
}

/**
 * Entries read per thread: a note holds at most ~65,536 characters, so no more than this many entries can ever
 * be shown; the rest is counted, not loaded (a thread's size is the sender's to choose).
 */
const MAX_ENTRIES = 2_000;

const key = (i: { tenant: string; chatId: string; threadId: string }) => [i.tenant, i.chatId, i.threadId];

/**
 * The worker's SQL on the `crm` schema. Every write is its own short transaction (autocommit): a result is on
 * disk before the next HubSpot call, so a crash loses at most the call in flight, which the note's
 * `create_started_at` marker covers.
 */
export class SyncStore {
  constructor(
    private readonly pool: pg.Pool,
    private readonly s: string,
  ) {}

  /**
   * Claims up to `limit` due rows with FOR UPDATE SKIP LOCKED, so several workers (threads or processes) never
   * take the same row; the claim is a lease (`claimed_until`), so the row comes back if its worker dies.
   */
  async claim(limit: number, leaseMs: number): Promise<ClaimedItem[]> {
    const { rows } = await this.pool.query<{
      tenant: string;
      chat_id: string;
      thread_id: string;
      version: string;
      attempts: number;
      queued_at_ms: string;
      claim_token: string;
    }>(
      `with due as (
         select tenant, chat_id, thread_id from ${this.s}.outbox
         where status = 'pending' and next_attempt_at <= now() and (claimed_until is null or claimed_until <= now())
         order by next_attempt_at
         limit $1
         for update skip locked)
       update ${this.s}.outbox o
       set claimed_until = now() + make_interval(secs => $2::double precision / 1000), claim_token = $3
       from due where o.tenant = due.tenant and o.chat_id = due.chat_id and o.thread_id = due.thread_id
       returning o.tenant, o.chat_id, o.thread_id, o.version::text, o.attempts,
                 (extract(epoch from o.created_at) * 1000)::bigint::text as queued_at_ms, o.claim_token::text`,
      [limit, leaseMs, randomUUID()],
    );
    return rows.map((r) => ({
      tenant: r.tenant,
      chatId: r.chat_id,
      threadId: r.thread_id,
      version: r.version,
      attempts: r.attempts,
      claimToken: r.claim_token,
      queuedAtMs: Number(r.queued_at_ms),
    }));
  }

  /** What the note is rendered from, as the projection holds it now; null when the thread no longer qualifies. */
  async snapshot(item: ClaimedItem): Promise<Snapshot | null> {
    const head = await this.pool.query<{
      closed_us: string | null;
      name: string | null;
      email: string | null;
      session_fields: Record<string, unknown> | null;
      rating_score: number | null;
      rating_comment: string | null;
      tags: string[];
    }>(
      `select t.closed_us::text, u.name, u.email, u.session_fields, t.rating_score, t.rating_comment,
              case when t.archive_tags_us is not null then array(
                -- per tag the latest fact wins: the newest archive read's list unless a tag change was received
                -- after it, then the later of tag and untag (an untag at the same microsecond wins)
                select x.tag from (
                  select a.tag from unnest(t.archive_tags) as a(tag)
                  where not exists (select 1 from ${this.s}.thread_tags u
                                    where u.tenant = t.tenant and u.chat_id = t.chat_id and u.thread_id = t.thread_id
                                      and u.tag = a.tag and u.untagged and u.untagged_us > t.archive_tags_us
                                      and not (u.tagged and coalesce(u.tagged_us, -1) > u.untagged_us))
                  union
                  select g.tag from ${this.s}.thread_tags g
                  where g.tenant = t.tenant and g.chat_id = t.chat_id and g.thread_id = t.thread_id
                    and g.tagged and g.tagged_us > t.archive_tags_us
                    and not (g.untagged and coalesce(g.untagged_us, -1) >= g.tagged_us)) x order by x.tag)
              else coalesce(t.tags_snapshot, array(select g.tag from ${this.s}.thread_tags g
                where g.tenant = t.tenant and g.chat_id = t.chat_id and g.thread_id = t.thread_id
                  and g.tagged and not g.untagged order by g.tag)) end as tags
       from ${this.s}.threads t
       join ${this.s}.chats c on c.tenant = t.tenant and c.chat_id = t.chat_id
       join ${this.s}.customers u on u.tenant = c.tenant and u.customer_id = c.customer_id
       where t.tenant = $1 and t.chat_id = $2 and t.thread_id = $3`,
      key(item),
    );
    const h = head.rows[0];
    if (h === undefined || h.closed_us === null || h.email === null) return null;
    const entries = await this.pool.query<{
      author_kind: string | null;
      author_name: string | null;
      author_id: string | null;
      kind: string | null;
      text: string | null;
      file_name: string | null;
      file_url: string | null;
      created_us: string | null;
      total: string;
    }>(
      `select count(*) over ()::text as total, case when e.author_kind is null or e.author_kind = 'unknown' then coalesce(p.kind, e.author_kind) else e.author_kind end as author_kind,
              coalesce(e.author_name, p.name) as author_name, e.author_id, e.kind, e.text, e.file_name, e.file_url,
              e.created_us::text
       from ${this.s}.entries e
       left join ${this.s}.participants p on p.tenant = e.tenant and p.chat_id = e.chat_id and p.user_id = e.author_id
       where e.tenant = $1 and e.chat_id = $2 and e.thread_id = $3 and e.deleted_us is null
         and coalesce(e.visibility, 'all') = 'all' and e.kind is not null
         -- forms and rich messages without text have nothing readable to show
         and (e.text is not null or e.file_url is not null or e.file_name is not null)
       order by e.created_us nulls last, e.transcript_position nulls last, e.entry_id
       limit ${MAX_ENTRIES}`,
      key(item),
    );
    const list: NoteEntry[] = entries.rows.map((e) => ({
      authorKind: e.author_kind,
      authorName: e.author_name,
      authorId: e.author_id,
      kind: e.kind,
      text: e.text,
      fileName: e.file_name,
      fileUrl: e.file_url,
      createdUs: e.created_us === null ? null : Number(e.created_us),
    }));
    return {
      tenant: item.tenant,
      chatId: item.chatId,
      threadId: item.threadId,
      closedUs: Number(h.closed_us),
      customerName: h.name,
      customerEmail: h.email,
      tags: h.tags,
      ratingScore: h.rating_score,
      ratingComment: h.rating_comment,
      entries: list,
      entriesNotLoaded: Math.max(0, Number(entries.rows[0]?.total ?? 0) - list.length),
      sessionFields: h.session_fields,
    };
  }

  async noteRecord(item: ClaimedItem): Promise<NoteRecord | null> {
    const { rows } = await this.pool.query<{
      account: string;
      contact_id: string | null;
      note_id: string | null;
      body_sha256: string | null;
      create_started: boolean;
      create_started_ms: string | null;
    }>(
      `select account, contact_id, note_id, body_sha256, create_started_at is not null as create_started,
              (extract(epoch from create_started_at) * 1000)::bigint::text as create_started_ms
       from ${this.s}.notes where tenant = $1 and chat_id = $2 and thread_id = $3`,
      key(item),
    );
    const r = rows[0];
    return r === undefined
      ? null
      : {
          account: r.account,
          contactId: r.contact_id,
          noteId: r.note_id,
          bodySha256: r.body_sha256,
          createStarted: r.create_started,
          createStartedAtMs: r.create_started_ms === null ? null : Number(r.create_started_ms),
        };
  }

  /**
   * Committed right before the create call: from now on a note may exist that we do not know of. Only while this
   * worker's claim holds (its token, its lease not run out); the lease is then extended to cover the call
   * (`holdMs`), so no other worker can claim the row and create a second note while this create is in flight.
   * False: the claim is lost, the caller must not create.
   */
  async markCreateStarted(
    item: ClaimedItem,
    account: string,
    contactId: string,
    holdMs: number,
  ): Promise<boolean> {
    // One statement: the outbox row stays locked until the notes row is written, so a crm.erase_chats that runs
    // meanwhile (it locks the outbox rows first) waits and then sees the create as in doubt (a look-up key);
    // between two autocommit statements it could erase first and leave a fresh notes row unseen.
    const held = await this.pool.query(
      `with held as (
         update ${this.s}.outbox
         set claimed_until = greatest(claimed_until, now() + make_interval(secs => $7::double precision / 1000))
         where tenant = $1 and chat_id = $2 and thread_id = $3 and claim_token = $6 and claimed_until > now()
           and status = 'pending'
         returning tenant)
       insert into ${this.s}.notes (tenant, chat_id, thread_id, account, contact_id, create_started_at)
       select $1, $2, $3, $4, $5, now() from held
       on conflict (tenant, chat_id, thread_id) do update set account = excluded.account,
         contact_id = excluded.contact_id, create_started_at = coalesce(${this.s}.notes.create_started_at, now())`,
      [...key(item), account, contactId, item.claimToken, holdMs],
    );
    if ((held.rowCount ?? 0) === 0) return false;
    return true;
  }

  async recordNote(
    item: ClaimedItem,
    note: { account: string; contactId: string; noteId: string; bodySha256: string | null },
  ): Promise<void> {
    // A thread erased meanwhile (crm.erase_chats ran during this sync, e.g. while the create was in flight): its
    // notes rows went to hubspot_erasures, and a row written back here would outlive the erasure. The note exists
    // in HubSpot all the same: it is queued for deletion in the same statement, never dropped.
    await this.pool.query(
      `with erased as (
         select e.request_id from ${this.s}.outbox o
         left join ${this.s}.erased_chats e on e.tenant = o.tenant and e.chat_id = o.chat_id
         where o.tenant = $1 and o.chat_id = $2 and o.thread_id = $3 and o.status = 'erased'),
       queued as (
         insert into ${this.s}.hubspot_erasures (tenant, request_id, account, contact_id, note_ids, status)
         select $1, request_id, $4, $5, array[$6::text], 'pending' from erased
         returning id)
       insert into ${this.s}.notes (tenant, chat_id, thread_id, account, contact_id, note_id, body_sha256, synced_at)
       select $1, $2, $3, $4, $5, $6, $7, now()
       where not exists (select 1 from erased)
       on conflict (tenant, chat_id, thread_id) do update set account = excluded.account, contact_id = excluded.contact_id,
         note_id = excluded.note_id, body_sha256 = excluded.body_sha256, synced_at = now()`,
      [...key(item), note.account, note.contactId, note.noteId, note.bodySha256],
    );
  }

  /** The create certainly did not happen (HubSpot refused it with an answer): no look-up needed next time. */
  async clearCreateStarted(item: ClaimedItem): Promise<void> {
    await this.pool.query(
      `update ${this.s}.notes set create_started_at = null
       where tenant = $1 and chat_id = $2 and thread_id = $3 and note_id is null`,
      key(item),
    );
  }

  /** The note is gone from HubSpot (deleted there): forget it, so the next attempt creates a new one. */
  async forgetNote(item: ClaimedItem): Promise<void> {
    await this.pool.query(
      `update ${this.s}.notes set note_id = null, body_sha256 = null, create_started_at = null
       where tenant = $1 and chat_id = $2 and thread_id = $3`,
      key(item),
    );
  }

  /** Contact ids by e-mail, keyed by the schema's `email_key` (the same function crm.erase_chats deletes by). */
  async rememberContacts(
    account: string,
    contacts: readonly { email: string; contactId: string }[],
  ): Promise<void> {
    if (contacts.length === 0) return;
    await this.pool.query(
      `insert into ${this.s}.contacts (account, email_key, contact_id)
       select distinct on (k.email_key) $1, k.email_key, k.contact_id
       from (select ${this.s}.email_key(x.email) as email_key, x.contact_id
             from jsonb_to_recordset($2::jsonb) as x(email text, contact_id text)) k
       order by k.email_key
       on conflict (account, email_key) do update set contact_id = excluded.contact_id, updated_at = now()`,
      [account, JSON.stringify(contacts.map((c) => ({ email: c.email, contact_id: c.contactId })))],
    );
  }

  /** Done with the version it synced; a newer version (a change during the sync) stays pending. */
  async complete(item: ClaimedItem): Promise<boolean> {
    const { rowCount } = await this.pool.query(
      `update ${this.s}.outbox set status = case when version = $4 then 'done' else 'pending' end,
         synced_version = greatest(synced_version, $4), attempts = 0, claimed_until = null, last_error_code = null,
         updated_at = now()
       where tenant = $1 and chat_id = $2 and thread_id = $3 and status = 'pending' and claim_token = $5`,
      [...key(item), item.version, item.claimToken],
    );
    return (rowCount ?? 0) > 0;
  }

  /** Back to the queue at `at`; `failed` counts an attempt (waits for a window or a pause do not). */
  async reschedule(item: ClaimedItem, at: Date, code: string, failed: boolean): Promise<void> {
    await this.pool.query(
      `update ${this.s}.outbox set next_attempt_at = greatest(next_attempt_at, $4), claimed_until = null,
         last_error_code = $5, attempts = attempts + $6, updated_at = now()
       where tenant = $1 and chat_id = $2 and thread_id = $3 and claim_token = $7`,
      [...key(item), at, code, failed ? 1 : 0, item.claimToken],
    );
  }

  /**
   * Claimed rows (of one claim) back to the queue at `at`, in one UPDATE: an account in a 429 window gives its
   * rest back instead of holding the pass. Not a failed attempt.
   */
  async rescheduleClaimed(items: readonly ClaimedItem[], at: Date, code: string): Promise<number> {
    if (items.length === 0) return 0;
    const { rowCount } = await this.pool.query(
      `update ${this.s}.outbox o set next_attempt_at = greatest(o.next_attempt_at, $5), claimed_until = null,
         last_error_code = $6, updated_at = now()
       from unnest($1::text[], $2::text[], $3::text[], $4::uuid[]) as k(tenant, chat_id, thread_id, claim_token)
       where o.tenant = k.tenant and o.chat_id = k.chat_id and o.thread_id = k.thread_id
         and o.claim_token = k.claim_token`,
      [
        items.map((i) => i.tenant),
        items.map((i) => i.chatId),
        items.map((i) => i.threadId),
        items.map((i) => i.claimToken),
        at,
        code,
      ],
    );
    return rowCount ?? 0;
  }

  /**
   * Every pending row of a tenant that cannot be synced now (its account paused or broken, its token unreadable)
   * waits until `at`, in one UPDATE: its backlog does not come back row by row to crowd out other tenants. Rows
   * another worker holds are left alone.
   */
  async deferTenant(
    tenant: string,
    claimToken: string,
    at: Date,
    code: string,
    failed: boolean,
  ): Promise<number> {
    const { rowCount } = await this.pool.query(
      `update ${this.s}.outbox set next_attempt_at = greatest(next_attempt_at, $3), claimed_until = null,
         last_error_code = $4, attempts = attempts + $5, updated_at = now()
       where tenant = $1 and status = 'pending'
         and (claim_token = $2 or claimed_until is null or claimed_until <= now())`,
      [tenant, claimToken, at, code, failed ? 1 : 0],
    );
    return rowCount ?? 0;
  }

  /** A tenant without a token: its pending rows are parked (`no_token`, never claimed) until one is set. */
  async parkTenant(tenant: string, claimToken: string): Promise<number> {
    const { rowCount } = await this.pool.query(
      `update ${this.s}.outbox set status = 'no_token', claimed_until = null, last_error_code = 'CRM_NO_TOKEN',
         updated_at = now()
       where tenant = $1 and status = 'pending'
         and (claim_token = $2 or claimed_until is null or claimed_until <= now())`,
      [tenant, claimToken],
    );
    return rowCount ?? 0;
  }

  /** Tenants with parked rows (a bounded look: the worker asks for their tokens). */
  async parkedTenants(limit: number): Promise<string[]> {
    const { rows } = await this.pool.query<{ tenant: string }>(
      `select distinct tenant from ${this.s}.outbox where status = 'no_token' limit $1`,
      [limit],
    );
    return rows.map((r) => r.tenant);
  }

  /** A token is there now: the tenant's parked rows are due again. */
  async unparkTenant(tenant: string): Promise<number> {
    const { rowCount } = await this.pool.query(
      `update ${this.s}.outbox set status = 'pending', next_attempt_at = now(), last_error_code = null,
         updated_at = now()
       where tenant = $1 and status = 'no_token'`,
      [tenant],
    );
    return rowCount ?? 0;
  }

  /** Back to the queue as it is (this pass ran out of lease before reaching the row). */
  async release(item: ClaimedItem): Promise<void> {
    await this.pool.query(
      `update ${this.s}.outbox set claimed_until = null
       where tenant = $1 and chat_id = $2 and thread_id = $3 and claim_token = $4`,
      [...key(item), item.claimToken],
    );
  }

  /** The thread no longer qualifies (no e-mail, not closed): nothing to send. */
  async drop(item: ClaimedItem): Promise<void> {
    await this.pool.query(
      `update ${this.s}.outbox set status = 'done', claimed_until = null, updated_at = now()
       where tenant = $1 and chat_id = $2 and thread_id = $3 and version = $4 and claim_token = $5`,
      [...key(item), item.version, item.claimToken],
    );
  }

  async deadLetter(
    item: ClaimedItem,
    failure: { code: string; status?: number; message: string; hubspotError?: unknown },
  ): Promise<void> {
    await withPoolClient(this.pool, async (client) => {
      try {
        await client.query('begin');
        await client.query(
          `insert into ${this.s}.dead_letters (tenant, chat_id, thread_id, code, http_status, message, hubspot_error)
         values ($1, $2, $3, $4, $5, $6, $7)`,
          [
            ...key(item),
            failure.code,
            failure.status ?? null,
            failure.message.slice(0, 1024),
            failure.hubspotError === undefined ? null : JSON.stringify(failure.hubspotError),
          ],
        );
        const held = await client.query(
          `update ${this.s}.outbox set status = 'dead', claimed_until = null, last_error_code = $4, updated_at = now()
         where tenant = $1 and chat_id = $2 and thread_id = $3 and claim_token = $5`,
          [...key(item), failure.code, item.claimToken],
        );
        // The claim is lost: the worker holding the row now decides (no dead letter for a row it may sync).
        await client.query((held.rowCount ?? 0) === 0 ? 'rollback' : 'commit');
      } catch (error) {
        await client.query('rollback').catch(() => undefined);
        throw error;
      }
    });
  }

  async setConnection(
    tenants: readonly string[],
    account: string,
    status: 'ok' | 'broken' | 'paused',
    code: string | null,
    pausedUntil: Date | null,
  ): Promise<void> {
    if (tenants.length === 0) return;
    await this.pool.query(
      `insert into ${this.s}.connections (tenant, account, status, code, paused_until)
       select t, $2, $3, $4, $5 from unnest($1::text[]) as t order by t
       on conflict (tenant) do update set account = excluded.account, status = excluded.status, code = excluded.code,
         paused_until = excluded.paused_until,
         since = case when ${this.s}.connections.status = excluded.status then ${this.s}.connections.since else now() end`,
      [tenants, account, status, code, pausedUntil],
    );
  }

  async pendingCount(): Promise<number> {
    const { rows } = await this.pool.query<{ n: string }>(
      `select count(*)::text as n from ${this.s}.outbox where status = 'pending'`,
    );
    return Number(rows[0]?.n ?? 0);
  }
}
