import { rawKeyScope, sealRawBody } from '@livechat-pipeline/events';
import {
  PRIVACY_ERROR_CODES,
  PrivacyError,
  isPrivacyError,
  type ChatKeyState,
  type PrivacyErrorCode,
} from '@livechat-pipeline/privacy';
import { IngestError } from '../errors.js';
import type { PrivacyMetrics } from '../metrics.js';
import type { KeyedRawRecord } from '../raw-record.js';
import type { JsonObject } from '../webhook.js';

/** What the sealer needs of the key store (`PrivacyVault`). */
export interface DataKeyStore {
  keysFor(
    tenantId: string,
    chatIds: readonly string[],
    options: { create: boolean },
  ): Promise<Map<string, ChatKeyState>>;
}

/** Seals a raw record's redacted body before it leaves the process (Kafka or the spool). */
export interface RawBodySealer {
  /**
   * The record with `body` "" and the redacted body in `sealed.envelope`; unchanged when the webhook carries
   * nothing personal (rawKeyScope null); with `envelope` null when its scope was erased (the body is dropped).
   * Rejects with INGEST_INVALID_ID (422) for an id the key store cannot hold, INGEST_PRIVACY_KEY_UNAVAILABLE (503)
   * when the data key cannot be had now, INGEST_PRIVACY_KEY_INVALID (500, final) for a corrupt key row: the webhook is then
   * written nowhere.
   */
  seal(record: KeyedRawRecord, redactedBody: JsonObject): Promise<KeyedRawRecord>;
}

/**
 * The key-store tenant of a record without a tenant (no organization_id / license_id and no URL label, a
 * single-tenant deployment): never a valid tenant id (parentheses), so it cannot collide with one.
 */
export const NO_TENANT_KEY_STORE_ID = '(none)';

/** The key store's id limit (packages/privacy): a longer scope (a hostile customer id) is refused, 422. */
const MAX_SCOPE_LENGTH = 256;

/**
 * The most records one key look-up names: far below the key store's per-call limit (10,000), about one produce
 * batch (INGEST_BATCH_MAX_RECORDS' default).
 */
export const SEAL_BATCH_MAX_RECORDS = 500;

/**
 * The key look-ups of one tenant running at once. Each look-up of new chats costs three round trips on the key
 * store's small pool (INGEST_PRIVACY_POOL_SIZE, 2): one at a time per tenant, the webhooks arriving meanwhile
 * wait and go into the next look-up together, so under load batches grow and round trips per webhook fall
 * (bench/seal-burst.ts: 1,000 new chats/s).
 */
export const SEAL_LOOK_UPS_IN_FLIGHT_PER_TENANT = 1;

/**
 * The most webhooks of one tenant waiting for a key look-up (four full look-ups): beyond it a webhook is answered
 * 503 INGEST_PRIVACY_KEY_UNAVAILABLE (retry) at once, so a key store slower than the traffic cannot grow memory.
 */
export const SEAL_QUEUE_MAX_RECORDS_PER_TENANT = 4 * SEAL_BATCH_MAX_RECORDS;

/**
 * The bodies held by webhooks waiting for or in a key look-up, all tenants together (tenants are many, and each
 * body may be up to INGEST_BODY_LIMIT_BYTES): beyond it a webhook is answered 503 at once, like the tenant's cap.
 */
export const SEAL_QUEUE_MAX_BYTES = 64 * 1024 * 1024;

interface Pending {
  readonly record: KeyedRawRecord;
  readonly tenant: string;
  readonly scope: string;
  readonly resolve: (record: KeyedRawRecord) => void;
  readonly reject: (err: unknown) => void;
}

/** One tenant's webhooks waiting for a look-up, and its look-ups running. */
interface TenantQueue {
  waiting: Pending[];
  lookUpsInFlight: number;
}

/**
 * Seals raw bodies with the data key of their scope (docs/privacy.md section 4). Webhooks of one tenant share one
 * key look-up, `keysFor(tenant, scopes, { create: true })`, usually answered by the vault's cache: those that
 * arrive in the same event-loop turn (the bodies read in one I/O poll, what the produce batcher would put in one
 * batch), and, while a look-up of the tenant runs (at most SEAL_LOOK_UPS_IN_FLIGHT_PER_TENANT), all those arriving
 * meanwhile, which go into the next one (up to SEAL_BATCH_MAX_RECORDS each). A failed look-up fails only its own
 * webhooks (503, retried by LiveChat); other tenants' and later webhooks go on.
 */
export class VaultRawBodySealer implements RawBodySealer {
  private readonly tenants = new Map<string, TenantQueue>();
  /** Tenants with webhooks queued since the last flush. */
  private readonly arrived = new Set<string>();
  private scheduled = false;
  private readonly maxBatchRecords: number;
  private readonly maxLookUpsInFlight: number;
  private readonly maxQueuedRecords: number;
  private readonly maxQueuedBytes: number;
  /** Body bytes (UTF-16 code units, close enough for a bound) of the webhooks not yet settled. */
  private queuedBytes = 0;

  constructor(
    private readonly options: {
      readonly keys: DataKeyStore;
      readonly metrics?: PrivacyMetrics;
      /** Records per key look-up (default SEAL_BATCH_MAX_RECORDS). */
      readonly maxBatchRecords?: number;
      /** Look-ups of one tenant at once (default SEAL_LOOK_UPS_IN_FLIGHT_PER_TENANT). */
      readonly maxLookUpsInFlightPerTenant?: number;
      /** Webhooks of one tenant waiting for a look-up (default SEAL_QUEUE_MAX_RECORDS_PER_TENANT). */
      readonly maxQueuedRecordsPerTenant?: number;
      /** Body bytes of the webhooks waiting for or in a look-up, all tenants (default SEAL_QUEUE_MAX_BYTES). */
      readonly maxQueuedBytes?: number;
    },
  ) {
    this.maxBatchRecords = options.maxBatchRecords ?? SEAL_BATCH_MAX_RECORDS;
    this.maxLookUpsInFlight = options.maxLookUpsInFlightPerTenant ?? SEAL_LOOK_UPS_IN_FLIGHT_PER_TENANT;
    this.maxQueuedRecords = options.maxQueuedRecordsPerTenant ?? SEAL_QUEUE_MAX_RECORDS_PER_TENANT;
    this.maxQueuedBytes = options.maxQueuedBytes ?? SEAL_QUEUE_MAX_BYTES;
  }

  seal(record: KeyedRawRecord, redactedBody: JsonObject): Promise<KeyedRawRecord> {
    const value = record.value;
    const scope = rawKeyScope({
      action: value.action,
      chatId: value.chat_id,
      eventId: value.event_id,
      body: redactedBody,
    });
    if (scope === null) return Promise.resolve(record); // nothing personal: configuration, routing
    if (scope.length === 0 || scope.length > MAX_SCOPE_LENGTH) {
      return Promise.reject(
        new IngestError(
          'INGEST_ID_TOO_LONG',
          `the id that keys this webhook's encryption (${scope.slice(0, 40)}…) is longer than ${MAX_SCOPE_LENGTH} characters`,
        ),
      );
    }
    if (!storableId(scope)) {
      return Promise.reject(
        new IngestError(
          'INGEST_INVALID_ID',
          "the id that keys this webhook's encryption (its chat, customer, visitor or ticket id) holds a NUL character or an unpaired UTF-16 surrogate, which the key store cannot hold",
        ),
      );
    }
    const tenant = value.tenant ?? NO_TENANT_KEY_STORE_ID;
    let queue = this.tenants.get(tenant);
    if (queue === undefined) {
      queue = { waiting: [], lookUpsInFlight: 0 };
      this.tenants.set(tenant, queue);
    }
    const size = record.value.body.length;
    if (queue.waiting.length >= this.maxQueuedRecords || this.queuedBytes + size > this.maxQueuedBytes) {
      if (queue.waiting.length === 0 && queue.lookUpsInFlight === 0) this.tenants.delete(tenant);
      this.options.metrics?.sealFailures.inc({ code: 'SEAL_QUEUE_FULL' });
      return Promise.reject(
        new IngestError(
          'INGEST_PRIVACY_KEY_UNAVAILABLE',
          queue.waiting.length >= this.maxQueuedRecords
            ? `the webhook's body could not be encrypted: ${this.maxQueuedRecords} webhooks of its tenant are waiting for their data keys already (the key store is slower than the traffic); nothing was written, retry`
            : `the webhook's body could not be encrypted: the webhooks waiting for their data keys hold ${this.maxQueuedBytes} bytes of bodies already (the key store is slower than the traffic); nothing was written, retry`,
        ),
      );
    }
    const waiting = queue.waiting;
    this.queuedBytes += size;
    let settled = false;
    const release = (): void => {
      if (settled) return;
      settled = true;
      this.queuedBytes -= size;
    };
    return new Promise<KeyedRawRecord>((resolve, reject) => {
      waiting.push({
        record,
        tenant,
        scope,
        resolve: (sealedRecord) => {
          release();
          resolve(sealedRecord);
        },
        reject: (err) => {
          release();
          reject(err);
        },
      });
      this.arrived.add(tenant);
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(this.flush);
      }
    });
  }

  /** End of the turn: each tenant that got webhooks starts a look-up unless it has as many running as it may. */
  private readonly flush = (): void => {
    this.scheduled = false;
    const tenants = [...this.arrived];
    this.arrived.clear();
    for (const tenant of tenants) this.startLookUps(tenant);
  };

  private startLookUps(tenant: string): void {
    const queue = this.tenants.get(tenant);
    if (queue === undefined) return;
    while (queue.lookUpsInFlight < this.maxLookUpsInFlight && queue.waiting.length > 0) {
      const group = queue.waiting.splice(0, this.maxBatchRecords);
      queue.lookUpsInFlight += 1;
      void this.sealGroup(tenant, group).finally(() => {
        queue.lookUpsInFlight -= 1;
        // The webhooks that arrived meanwhile go now, together; an idle tenant leaves no entry behind.
        if (queue.waiting.length > 0) this.startLookUps(tenant);
        else if (queue.lookUpsInFlight === 0) this.tenants.delete(tenant);
      });
    }
  }

  private async sealGroup(tenant: string, group: readonly Pending[]): Promise<void> {
    const started = performance.now();
    try {
      let keys: Map<string, ChatKeyState>;
      try {
        keys = await this.options.keys.keysFor(tenant, scopesOf(group), { create: true });
      } catch (err) {
        // One look-up for many scopes fails for all of them; a scope that alone is to blame (a corrupt key row)
        // or one that is cached (the store is down, but its key is in the vault's cache) must not take the
        // others down: each scope is looked up on its own, in parallel (a cached one makes no query). Not awaited:
        // the tenant's next look-up must not wait for those (with the store down each takes a connect timeout),
        // or webhooks of cached chats would wait past their deadline behind them.
        if (new Set(scopesOf(group)).size > 1) void this.sealEachScope(tenant, group);
        else this.fail(group, err);
        return;
      }
      this.resolveWith(keys, group);
    } finally {
      this.options.metrics?.sealSeconds.observe((performance.now() - started) / 1000);
    }
  }

  private async sealEachScope(tenant: string, group: readonly Pending[]): Promise<void> {
    const byScope = new Map<string, Pending[]>();
    for (const p of group) {
      const same = byScope.get(p.scope);
      if (same === undefined) byScope.set(p.scope, [p]);
      else same.push(p);
    }
    await Promise.all(
      [...byScope].map(async ([scope, pendings]) => {
        let keys: Map<string, ChatKeyState>;
        try {
          keys = await this.options.keys.keysFor(tenant, [scope], { create: true });
        } catch (err) {
          this.fail(pendings, err);
          return;
        }
        this.resolveWith(keys, pendings);
      }),
    );
  }

  private resolveWith(keys: Map<string, ChatKeyState>, group: readonly Pending[]): void {
    for (const p of group) {
      const state = keys.get(p.scope);
      try {
        if (state?.state === 'active') p.resolve(sealed(p, sealRawBody(p.record.value, p.scope, state.key)));
        // Erased: the body is dropped, never written in clear nor sealed with a new key; the record keeps its ids.
        else if (state?.state === 'erased')
          p.resolve(sealed(p, sealRawBody(p.record.value, p.scope, 'erased')));
        else
          this.fail(
            [p],
            new PrivacyError('PRIVACY_KEY_UNAVAILABLE', 'the key store created no key for the scope'),
          );
      } catch (err) {
        this.fail([p], err);
      }
    }
  }

  /**
   * Rejects the webhooks: 503 INGEST_PRIVACY_KEY_UNAVAILABLE (retry) for the retryable privacy errors and
   * unexpected ones, 500 INGEST_PRIVACY_KEY_INVALID (final) for the others (a corrupt wrapped key, an id refused).
   */
  private fail(group: readonly Pending[], cause: unknown): void {
    const code: PrivacyErrorCode = isPrivacyError(cause) ? cause.code : 'PRIVACY_KEY_UNAVAILABLE';
    this.options.metrics?.sealFailures.inc({ code }, group.length);
    const err = PRIVACY_ERROR_CODES[code].retryable
      ? new IngestError(
          'INGEST_PRIVACY_KEY_UNAVAILABLE',
          `the webhook's body could not be encrypted: its data key could not be had from the key store (${code}); nothing was written, retry`,
          { cause },
        )
      : new IngestError(
          'INGEST_PRIVACY_KEY_INVALID',
          `the webhook's body could not be encrypted: the key store answered ${code} for its data key, which a retry does not mend; nothing was written`,
          { cause },
        );
    for (const p of group) p.reject(err);
  }
}

function scopesOf(group: readonly Pending[]): string[] {
  return group.map((p) => p.scope);
}

/**
 * Whether Postgres text holds the id as it is: a NUL fails every query naming it (SQLSTATE 22021), and an
 * unpaired surrogate comes back as U+FFFD (another id, whose key two such ids would share).
 */
export function storableId(id: string): boolean {
  return !id.includes('\u0000') && !LONE_SURROGATE.test(id);
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

function sealed(p: Pending, value: KeyedRawRecord['value']): KeyedRawRecord {
  return { ...p.record, value };
}
