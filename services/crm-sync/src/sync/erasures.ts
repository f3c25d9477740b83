import { randomUUID } from 'node:crypto';
import type pg from 'pg';

/**
 * One claimed row of crm.hubspot_erasures: the notes crm-sync made for an erased customer's threads in one HubSpot
 * account and contact, to delete there. HubSpot ids and sync keys (hashes) only.
 */
export interface ClaimedErasure {
  readonly id: string;
  readonly tenant: string;
  /** The HubSpot account (token hash) the notes were made with; null for a row without notes. */
  readonly account: string | null;
  readonly contactId: string | null;
  /** Notes still to delete. */
  readonly noteIds: readonly string[];
  /** Sync keys of notes whose create was in doubt at the erasure: looked up among the contact's notes. */
  readonly lookupKeys: readonly string[];
  /** The latest start of those creates (epoch ms): no look-up before it plus the timeout and the look-up delay. */
  readonly lookupAfterMs: number | null;
  readonly attempts: number;
  readonly claimToken: string;
}

export type ErasureStatus = 'pending' | 'notes_deleted' | 'contact_manual' | 'contact_erased';

/** A row as `pnpm crm erasures` lists it. */
export interface ErasureRow {
  readonly id: string;
  readonly requestId: string | null;
  readonly status: ErasureStatus;
  readonly contactId: string | null;
  readonly notesDeleted: number;
  readonly notesLeft: number;
  readonly lookupsLeft: number;
  readonly attempts: number;
  readonly lastErrorCode: string | null;
  readonly createdAt: Date;
  readonly updatedAt: Date;
}

/**
 * The worker's SQL on crm.hubspot_erasures (rows written by crm.erase_chats). Like the outbox: claims are leases
 * with a token that every write checks, so two workers never delete the same notes at once and a worker whose
 * lease ran out writes nothing.
 */
export class ErasureStore {
  constructor(
    private readonly pool: pg.Pool,
    private readonly s: string,
  ) {}

  async claim(limit: number, leaseMs: number): Promise<ClaimedErasure[]> {
    const { rows } = await this.pool.query<{
      id: string;
      tenant: string;
      account: string | null;
      contact_id: string | null;
      note_ids: string[];
      lookup_keys: string[];
      lookup_after_ms: string | null;
      attempts: number;
      claim_token: string;
    }>(
      `with due as (
         select id from ${this.s}.hubspot_erasures
         where status = 'pending' and next_attempt_at <= now() and (claimed_until is null or claimed_until <= now())
         order by next_attempt_at
         limit $1
         for update skip locked)
       update ${this.s}.hubspot_erasures h
       set claimed_until = now() + make_interval(secs => $2::double precision / 1000), claim_token = $3
       from due where h.id = due.id
       returning h.id::text, h.tenant, h.account, h.contact_id, h.note_ids, h.lookup_keys,
                 (extract(epoch from h.lookup_after) * 1000)::bigint::text as lookup_after_ms, h.attempts, h.claim_token::text`,
      [limit, leaseMs, randomUUID()],
    );
    return rows.map((r) => ({
      id: r.id,
      tenant: r.tenant,
      account: r.account,
      contactId: r.contact_id,
      noteIds: r.note_ids,
      lookupKeys: r.lookup_keys,
      lookupAfterMs: r.lookup_after_ms === null ? null : Number(r.lookup_after_ms),
      attempts: r.attempts,
      claimToken: r.claim_token,
    }));
  }

  /** A note is gone from HubSpot (deleted now, or found gone): off the list, so a retry does not call for it. */
  async noteGone(item: ClaimedErasure, noteId: string, deleted: boolean): Promise<void> {
    await this.pool.query(
      `update ${this.s}.hubspot_erasures set note_ids = array_remove(note_ids, $3),
         notes_deleted = notes_deleted + $4, updated_at = now()
       where id = $1 and claim_token = $2`,
      [item.id, item.claimToken, noteId, deleted ? 1 : 0],
    );
  }

  /** A doubtful create's sync key was looked up (and its note deleted, if found). */
  async lookupDone(item: ClaimedErasure, key: string, deleted: boolean): Promise<void> {
    await this.pool.query(
      `update ${this.s}.hubspot_erasures set lookup_keys = array_remove(lookup_keys, $3),
         notes_deleted = notes_deleted + $4, updated_at = now()
       where id = $1 and claim_token = $2`,
      [item.id, item.claimToken, key, deleted ? 1 : 0],
    );
  }

  /** Every note is gone: the contact, if crm-sync knows one, is the tenant's to erase (`contact_manual`). */
  async finish(item: ClaimedErasure): Promise<boolean> {
    const { rowCount } = await this.pool.query(
      `update ${this.s}.hubspot_erasures
       set status = case when contact_id is null then 'notes_deleted' else 'contact_manual' end,
         claimed_until = null, claim_token = null, last_error_code = null, updated_at = now()
       where id = $1 and claim_token = $2 and status = 'pending'
         and cardinality(note_ids) = 0 and cardinality(lookup_keys) = 0`,
      [item.id, item.claimToken],
    );
    return (rowCount ?? 0) > 0;
  }

  /** Back to the queue at `at`; `failed` counts an attempt (a 429 window or a pause does not). */
  async reschedule(item: ClaimedErasure, at: Date, code: string, failed: boolean): Promise<void> {
    await this.pool.query(
      `update ${this.s}.hubspot_erasures set next_attempt_at = greatest(next_attempt_at, $3), claimed_until = null,
         last_error_code = $4, attempts = attempts + $5, updated_at = now()
       where id = $1 and claim_token = $2`,
      [item.id, item.claimToken, at, code, failed ? 1 : 0],
    );
  }

  /** Back to the queue as it is (this pass ran out of lease before reaching the row). */
  async release(item: ClaimedErasure): Promise<void> {
    await this.pool.query(
      `update ${this.s}.hubspot_erasures set claimed_until = null where id = $1 and claim_token = $2`,
      [item.id, item.claimToken],
    );
  }
}

/**
 * The tenant erased these rows' contacts in HubSpot (the CLI's `erasures done`): `contact_manual` rows become
 * `contact_erased` and forget the contact id (an erased person's HubSpot id is not kept). Returns the rows changed.
 */
export async function markContactsErased(
  pool: pg.Pool,
  schema: string,
  tenant: string,
  ids: readonly string[],
): Promise<number> {
  const { rowCount } = await pool.query(
    `update "${schema}".hubspot_erasures set status = 'contact_erased', contact_id = null, updated_at = now()
     where tenant = $1 and id = any($2::bigint[]) and status = 'contact_manual'`,
    [tenant, ids],
  );
  return rowCount ?? 0;
}

/** A tenant's rows, newest first (the CLI): ids, counts and states, never a name or an e-mail. */
export async function listErasures(
  pool: pg.Pool,
  schema: string,
  tenant: string,
  limit = 1_000,
): Promise<ErasureRow[]> {
  const { rows } = await pool.query<{
    id: string;
    request_id: string | null;
    status: ErasureStatus;
    contact_id: string | null;
    notes_deleted: number;
    notes_left: number;
    lookups_left: number;
    attempts: number;
    last_error_code: string | null;
    created_at: Date;
    updated_at: Date;
  }>(
    `select id::text, request_id, status, contact_id, notes_deleted, cardinality(note_ids) as notes_left,
            cardinality(lookup_keys) as lookups_left, attempts, last_error_code, created_at, updated_at
     from "${schema}".hubspot_erasures where tenant = $1 order by created_at desc, id desc limit $2`,
    [tenant, limit],
  );
  return rows.map((r) => ({
    id: r.id,
    requestId: r.request_id,
    status: r.status,
    contactId: r.contact_id,
    notesDeleted: r.notes_deleted,
    notesLeft: r.notes_left,
    lookupsLeft: r.lookups_left,
    attempts: r.attempts,
    lastErrorCode: r.last_error_code,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  }));
}
