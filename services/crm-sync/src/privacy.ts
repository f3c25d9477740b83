import pg from 'pg';
import { Counter, type Registry } from 'prom-client';
import { openChatEvent, scopeToOpen, type ChatEventAvro } from '@livechat-pipeline/events';
import type { ChatDomainEvent } from '@livechat-pipeline/livechat';
import {
  MAX_CHATS_PER_CALL,
  PrivacyError,
  PrivacyVault,
  migratePrivacy,
  type ChatKeyState,
} from '@livechat-pipeline/privacy';
import type { CrmSyncConfig } from './config.js';

/**
 * The kind of a key scope for a log line: `customer:…`, `visitor:…`, `ticket:…` (their ids are a data subject's
 * LiveChat ids, kept out of logs), or `chat` (the chat id is in the event already).
 */
function scopeKind(scope: string): string {
  const colon = scope.indexOf(':');
  return colon < 0 ? 'chat' : `${scope.slice(0, colon)}:…`;
}

const sealedOf = (event: ChatDomainEvent): { readonly key_scope: string } | null | undefined =>
  (event as { sealed?: { key_scope: string } | null }).sealed;

/**
 * Opens the personal values of a batch of chat events before the projection applies them (issue 19,
 * docs/privacy.md section 5): one `keysFor(…, { create: false })` per tenant per batch, then `openChatEvent` per
 * event.
 *
 * - plain events pass as they are, with or without a vault;
 * - erased (key erased, or the envelope dropped on arrival) and undecryptable (tampered) events are applied with
 *   their personal values null — no name, no e-mail, so their threads are never synced — never dead-lettered, and
 *   counted in `crm_sync_privacy_fields_undecryptable_total{reason}`;
 * - a key that cannot be had now (key store down, no key row, KEK id unknown) throws a retryable PrivacyError: the
 *   partition waits, as for a Postgres outage;
 * - a sealed event without a vault (PRIVACY_KEYS not set) throws the same retryable error naming PRIVACY_KEYS,
 *   rather than writing nulls for values that are only locked away.
 */
export class ChatEventOpener {
  private readonly undecryptable: Counter<'reason'>;
  private readonly vaultOf: () => PrivacyVault | null;

  constructor(vault: PrivacyVault | null | (() => PrivacyVault | null), registry?: Registry) {
    this.vaultOf = typeof vault === 'function' ? vault : () => vault;
    this.undecryptable = new Counter({
      name: 'crm_sync_privacy_fields_undecryptable_total',
      help: 'Chat events applied with their personal values null: key erased (reason erased) or envelope unreadable (reason invalid)',
      labelNames: ['reason'],
      registers: registry === undefined ? [] : [registry],
    });
    for (const reason of ['erased', 'invalid'] as const) this.undecryptable.inc({ reason }, 0);
  }

  async open(events: readonly ChatDomainEvent[]): Promise<readonly ChatDomainEvent[]> {
    if (!events.some((e) => sealedOf(e) != null)) return events;
    const vault = this.vaultOf();
    const scopes = new Map<string, Set<string>>();
    for (const event of events) {
      // null for plain and erased-on-arrival events: no key needed
      const scope = scopeToOpen(event as unknown as ChatEventAvro.ChatEvent);
      if (scope === null) continue;
      if (vault === null)
        throw new PrivacyError(
          'PRIVACY_KEY_UNAVAILABLE',
          `chat event ${event.event_id} is sealed (key scope ${scopeKind(scope)}) and PRIVACY_KEYS is not set: configure the privacy keys; the partition waits`,
        );
      let ofTenant = scopes.get(event.tenant);
      if (ofTenant === undefined) scopes.set(event.tenant, (ofTenant = new Set()));
      ofTenant.add(scope);
    }

    const states = new Map<string, Map<string, ChatKeyState>>();
    for (const [tenant, ofTenant] of scopes) {
      const all = [...ofTenant];
      const found = new Map<string, ChatKeyState>();
      // One call per tenant (keysFor takes at most MAX_CHATS_PER_CALL scopes; a batch rarely holds more).
      for (let i = 0; i < all.length; i += MAX_CHATS_PER_CALL)
        for (const [scope, state] of await vault!.keysFor(tenant, all.slice(i, i + MAX_CHATS_PER_CALL), {
          create: false,
        }))
          found.set(scope, state);
      states.set(tenant, found);
    }

    let erased = 0;
    let invalid = 0;
    const opened = events.map((event) => {
      const sealed = sealedOf(event);
      if (sealed == null) return event;
      const state = states.get(event.tenant)?.get(sealed.key_scope);
      const result = openChatEvent(event as unknown as ChatEventAvro.ChatEvent, state);
      if (result.outcome === 'erased') erased++;
      else if (result.outcome === 'undecryptable') invalid++;
      return result.event as unknown as ChatDomainEvent;
    });
    // Counted once the whole batch opened, so a key-store outage does not count; a batch retried after a failure of
    // the apply (a deadlock, the one-by-one path) is opened and counted again: the counter is at least once.
    if (erased > 0) this.undecryptable.inc({ reason: 'erased' }, erased);
    if (invalid > 0) this.undecryptable.inc({ reason: 'invalid' }, invalid);
    return opened;
  }
}

/**
 * The vault on its own small pool (CRM_SYNC_PRIVACY_POOL_SIZE) to PRIVACY_DATABASE_URL, its schema migrated
 * (advisory-locked, idempotent); null when privacy is off.
 */
export async function openCrmPrivacyVault(
  config: CrmSyncConfig,
): Promise<{ vault: PrivacyVault; close: () => Promise<void> } | null> {
  const privacy = config.privacy;
  if (privacy === null) return null;
  const pool = new pg.Pool({
    connectionString: privacy.databaseUrl,
    max: privacy.poolSize,
    connectionTimeoutMillis: config.pools.connectTimeoutMs,
    // keysFor runs inside the consumer's open transaction: a key store that hangs (a black-holed connection, a
    // locked key row) must fail the batch (PRIVACY_KEY_UNAVAILABLE, retried), not hold the partition and an idle
    // transaction forever. The server-side timeout first; the client-side one for a connection that is gone.
    statement_timeout: privacy.queryTimeoutMs,
    query_timeout: privacy.queryTimeoutMs + 1_000,
    keepAlive: true,
  });
  // An idle connection lost (Postgres restarting) must not crash the process; the next query fails, retried.
  pool.on('error', () => undefined);
  try {
    await migratePrivacy(pool, { schema: privacy.vault.schema });
  } catch (error) {
    await pool.end().catch(() => undefined);
    throw error;
  }
  return { vault: new PrivacyVault(pool, privacy.vault), close: () => pool.end().catch(() => undefined) };
}
