import pg from 'pg';
import { Counter, type Registry } from 'prom-client';
import { openChatEvent, type SealedFields } from '@livechat-pipeline/events';
import type { ChatDomainEvent } from '@livechat-pipeline/livechat';
import {
  MAX_CHATS_PER_CALL,
  PrivacyError,
  PrivacyVault,
  migratePrivacy,
  type ChatKeyState,
  type PrivacyConfig,
} from '@livechat-pipeline/privacy';

/** Where the key store is and how to reach it; null when PRIVACY_KEYS is empty (privacy off). */
export interface ProjectionPrivacyConfig {
  readonly vault: PrivacyConfig;
  readonly databaseUrl: string;
  readonly poolSize: number;
  readonly connectTimeoutMs: number;
  /** How long one key-store query may take (server and client side) before it fails and the batch is retried. */
  readonly statementTimeoutMs: number;
}

/**
 * Opens the personal values of chat events before the projection applies them (issue 19, docs/privacy.md
 * section 5): one `keysFor(…, { create: false })` per tenant per batch, then `openChatEvent` per event.
 *
 * - plain (unsealed) events pass as they are, with or without a vault;
 * - erased (key erased, or envelope dropped) and undecryptable (tampered) events are applied with their personal
 *   values null: never a dead letter, counted in `<service>_privacy_fields_undecryptable_total{reason}`;
 * - a key that cannot be had now (key store down, no key row, KEK id unknown) throws a retryable PrivacyError: the
 *   runtime keeps the partition waiting, as for a Postgres outage;
 * - a sealed event with privacy off (no vault) throws the same retryable error, naming PRIVACY_KEYS, rather than
 *   writing nulls for values that are only locked away.
 */
export class ChatEventOpener {
  private readonly undecryptable: Counter<'reason'>;
  private readonly vaultOf: () => PrivacyVault | null;

  /** `vault`: the key store (null: privacy off), or a function giving it once start-up has opened it. */
  constructor(
    vault: PrivacyVault | null | (() => PrivacyVault | null),
    options: { readonly service: string; readonly registry?: Registry | undefined },
  ) {
    this.vaultOf = typeof vault === 'function' ? vault : () => vault;
    this.undecryptable = new Counter({
      name: `${options.service}_privacy_fields_undecryptable_total`,
      help: 'Chat events applied with their personal values null: key erased (reason erased) or envelope unreadable (reason invalid)',
      labelNames: ['reason'],
      registers: options.registry === undefined ? [] : [options.registry],
    });
    for (const reason of ['erased', 'invalid'] as const) this.undecryptable.inc({ reason }, 0);
  }

  async open(events: readonly ChatDomainEvent[]): Promise<ChatDomainEvent[]> {
    if (!events.some((e) => sealedOf(e) != null)) return events as ChatDomainEvent[];
    const vault = this.vaultOf();
    const scopes = new Map<string, Set<string>>();
    for (const event of events) {
      const sealed = sealedOf(event);
      if (sealed?.envelope == null) continue;
      if (vault === null)
        throw new PrivacyError(
          'PRIVACY_KEY_UNAVAILABLE',
          `chat event ${event.event_id} is sealed (key scope ${sealed.key_scope}) and PRIVACY_KEYS is not set: configure the privacy keys; the partition waits`,
        );
      // A scope the key store would refuse (empty, too long) fails no call for the tenant: that event is invalid.
      if (!wellFormedScope(sealed.key_scope)) continue;
      let ofTenant = scopes.get(event.tenant);
      if (ofTenant === undefined) scopes.set(event.tenant, (ofTenant = new Set()));
      ofTenant.add(sealed.key_scope);
    }

    const states = new Map<string, Map<string, ChatKeyState>>();
    for (const [tenant, ofTenant] of scopes) {
      const all = [...ofTenant];
      const found = new Map<string, ChatKeyState>();
      // keysFor takes at most MAX_CHATS_PER_CALL scopes; a consumer batch rarely holds that many chats.
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
      const malformed = sealed.envelope != null && !wellFormedScope(sealed.key_scope);
      const state = malformed ? UNREADABLE : states.get(event.tenant)?.get(sealed.key_scope);
      const result = openChatEvent(event, state);
      if (malformed) {
        invalid++;
        return result.event;
      }
      if (result.outcome === 'erased') erased++;
      else if (result.outcome === 'undecryptable') invalid++;
      return result.event;
    });
    // Counted once the whole batch opened (a batch retried after a key-store outage is not counted twice; one retried
    // after a Postgres failure of the apply is).
    if (erased > 0) this.undecryptable.inc({ reason: 'erased' }, erased);
    if (invalid > 0) this.undecryptable.inc({ reason: 'invalid' }, invalid);
    return opened;
  }
}

/** The key store's bound on a scope (PrivacyVault refuses others before any query). */
const SCOPE_MAX = 256;

function wellFormedScope(scope: string): boolean {
  return scope.length >= 1 && scope.length <= SCOPE_MAX;
}

/** Opens an event whose scope is malformed as an erased one: its personal values null, counted as invalid. */
const UNREADABLE: ChatKeyState = { state: 'erased', erasedAt: new Date(0) };

/** The decoded record's `sealed` field (chat-event v2); ChatDomainEvent, the parser's type, does not declare it. */
function sealedOf(event: ChatDomainEvent): SealedFields | null | undefined {
  return (event as { readonly sealed?: SealedFields | null }).sealed;
}

/** The vault on a small pool of its own, its schema migrated (advisory-locked, idempotent); null when off. */
export async function openPrivacyVault(
  config: ProjectionPrivacyConfig | null,
): Promise<{ vault: PrivacyVault; close: () => Promise<void> } | null> {
  if (config === null) return null;
  const pool = new pg.Pool({
    connectionString: config.databaseUrl,
    max: config.poolSize,
    connectionTimeoutMillis: config.connectTimeoutMs,
    // A key store that hangs (a lock on chat_keys, a network blackhole) must fail the batch, which the runtime logs
    // and retries, rather than hold it inside the consumer's open transaction forever.
    statement_timeout: config.statementTimeoutMs,
    query_timeout: config.statementTimeoutMs + 2_000,
    keepAlive: true,
  });
  // An idle connection lost (Postgres restarted) must not crash the process; the next query fails and is retried.
  pool.on('error', () => undefined);
  try {
    await migratePrivacy(pool, { schema: config.vault.schema });
  } catch (error) {
    await pool.end().catch(() => undefined);
    throw error;
  }
  return { vault: new PrivacyVault(pool, config.vault), close: () => pool.end().catch(() => undefined) };
}
