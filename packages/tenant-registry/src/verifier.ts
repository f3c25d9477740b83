import type pg from 'pg';
import { TenantRegistry } from './registry.js';
import { DEFAULT_REGISTRY_SCHEMA, quoteSchema } from './schema.js';
import { matchesAnyDigest } from './secret-hash.js';
import type { AuthCredentials, AuthResult, AuthSubject, SecretVerifier } from './verifier-types.js';

export interface RegistrySecretVerifierOptions {
  /** How often the accepted set is reloaded from Postgres; default 1000 ms. */
  readonly refreshMs?: number;
  readonly schema?: string;
  /**
   * Write `tenants.last_webhook_at` for tenants whose deliveries were accepted (batched, once per refresh).
   * Needs UPDATE on the tenants table; default false.
   */
  readonly recordLastWebhook?: boolean;
  /** Called when a refresh fails; the previous set stays in force. Must not throw. */
  readonly onError?: (err: Error) => void;
  readonly clock?: () => Date;
}

/** One accepted secret: its digest, and for a retiring registration when it stops counting (ms since epoch). */
interface Accepted {
  readonly digest: Buffer;
  readonly until: number | null;
}

interface Snapshot {
  /** organization_id and license_id of every active tenant -> its app's live webhook secrets. */
  readonly byTenant: ReadonlyMap<string, readonly Accepted[]>;
  readonly loadedAt: Date;
}

interface Row {
  organization_id: string;
  license_id: string | null;
  secret_hash: string;
  /** Retiring registrations: milliseconds left before retiring_until, by Postgres' clock (no skew). */
  retiring_ms_left: number | null;
}

/**
 * Accepts a v3 delivery when its `secret_key` is the secret of a live (active, or retiring and not past its
 * `retiring_until`) webhook registration
 * of the app AND the delivery's tenant (organization_id / license_id) is an ACTIVE tenant of that app.
 * Registrations are per Client ID since v3.3, so one secret serves every licence that installed the app; the
 * tenant check is what makes an uninstalled licence's deliveries fail.
 *
 * The set lives in memory as SHA-256 digests, reloaded every `refreshMs`; verification is synchronous and
 * compares in constant time. v2 deliveries are never accepted here (no v2 registration exists).
 */
export class RegistrySecretVerifier implements SecretVerifier {
  private snapshot: Snapshot = { byTenant: new Map(), loadedAt: new Date(0) };
  private timer: NodeJS.Timeout | undefined;
  private refreshing: Promise<void> | undefined;
  private readonly pending = new Set<string>();
  private readonly registry: TenantRegistry;
  private readonly s: string;
  private readonly refreshMs: number;
  private closed = false;

  constructor(
    private readonly pool: pg.Pool,
    private readonly options: RegistrySecretVerifierOptions = {},
  ) {
    const schema = options.schema ?? DEFAULT_REGISTRY_SCHEMA;
    this.s = quoteSchema(schema);
    this.registry = new TenantRegistry(pool, { schema });
    this.refreshMs = options.refreshMs ?? 1000;
  }

  /** Loads the set once (throws when Postgres cannot be read) and starts the refresh loop. */
  async start(): Promise<this> {
    await this.refresh();
    this.schedule();
    return this;
  }

  private schedule(): void {
    if (this.closed) return;
    this.timer = setTimeout(() => {
      this.refresh()
        .catch((err: unknown) => this.options.onError?.(err instanceof Error ? err : new Error(String(err))))
        .finally(() => this.schedule());
    }, this.refreshMs);
    this.timer.unref();
  }

  /** Reloads now (concurrent calls share one query) and flushes last-webhook times. */
  refresh(): Promise<void> {
    this.refreshing ??= this.load().finally(() => {
      this.refreshing = undefined;
    });
    return this.refreshing;
  }

  private async load(): Promise<void> {
    const started = Date.now();
    const r = await this.pool.query<Row>(
      `select t.organization_id, t.license_id, r.secret_hash,
              case when r.status = 'retiring'
                then extract(epoch from (r.retiring_until - now())) * 1000 end::float8 as retiring_ms_left
         from ${this.s}.tenants t
         join ${this.s}.webhook_registrations r on r.owner_client_id = t.client_id
        where t.status = 'active'
          and (r.status = 'active' or (r.status = 'retiring' and r.retiring_until > now()))`,
    );
    const byTenant = new Map<string, Accepted[]>();
    for (const row of r.rows) {
      // measured from before the query was sent: an expiry never moves later than Postgres' own
      const until = row.retiring_ms_left === null ? null : started + row.retiring_ms_left;
      const accepted: Accepted = { digest: Buffer.from(row.secret_hash, 'hex'), until };
      for (const key of [row.organization_id, row.license_id]) {
        if (key === null) continue;
        const list = byTenant.get(key) ?? [];
        list.push(accepted);
        byTenant.set(key, list);
      }
    }
    this.snapshot = { byTenant, loadedAt: this.now() };
    if (this.options.recordLastWebhook === true && this.pending.size > 0) {
      const keys = [...this.pending];
      this.pending.clear();
      await this.registry.touchLastWebhook(keys, this.now());
    }
  }

  private now(): Date {
    return this.options.clock?.() ?? new Date();
  }

  /** When the accepted set was last loaded. */
  get loadedAt(): Date {
    return this.snapshot.loadedAt;
  }

  /**
   * True when `secretKey` belongs to a live registration of the app installed by `tenant` (an organization id
   * or a license id), and that tenant is active. Only that tenant's secrets count: another tenant's secret is
   * refused even when it is valid for its own tenant. A null or empty tenant never matches.
   */
  verifyV3Secret(secretKey: string, tenant: string | null): boolean {
    const entries = tenant === null || tenant === '' ? undefined : this.snapshot.byTenant.get(tenant);
    // A retiring secret past its expiry no longer counts, even before the next refresh (or when it fails).
    const now = Date.now();
    const digests = (entries ?? []).filter((e) => e.until === null || e.until > now).map((e) => e.digest);
    // Always hash and compare, even with nothing to compare against.
    const ok = matchesAnyDigest(secretKey, digests) && secretKey !== '' && digests.length > 0;
    if (ok && this.options.recordLastWebhook === true) this.pending.add(tenant!);
    return ok;
  }

  /** The ingest's `WebhookSecretVerifier.verify`: v3 only, and only for the delivery's one tenant. */
  verify(credentials: AuthCredentials, subject: AuthSubject): AuthResult {
    if (credentials.format !== 'v3') return { ok: false, reason: 'bad_credentials' };
    if (credentials.secretKey === undefined || credentials.secretKey === '')
      return { ok: false, reason: 'missing_credentials' };
    return this.verifyV3Secret(credentials.secretKey, subject.tenant)
      ? { ok: true }
      : { ok: false, reason: 'bad_credentials' };
  }

  /** Stops the refresh loop (flushing pending last-webhook times once). Does not end the pool. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    await this.refreshing?.catch(() => undefined);
    if (this.options.recordLastWebhook === true && this.pending.size > 0) {
      const keys = [...this.pending];
      this.pending.clear();
      await this.registry.touchLastWebhook(keys, this.now()).catch(() => undefined);
    }
  }
}

/** Creates the verifier, loads the accepted set once and starts refreshing it. */
export async function createRegistrySecretVerifier(
  pool: pg.Pool,
  options: RegistrySecretVerifierOptions = {},
): Promise<RegistrySecretVerifier> {
  return new RegistrySecretVerifier(pool, options).start();
}

/**
 * A verifier that accepts what any of `verifiers` accepts, tried in order (e.g. the ingest's static
 * LIVECHAT_SECRET_KEYS first, then the registry), each asked about the same one tenant (`subject.tenant`), so
 * the combination never widens what one tenant's credentials open. When all refuse, the first one's reason is
 * returned.
 */
export function anyOfVerifiers(...verifiers: readonly SecretVerifier[]): SecretVerifier {
  return {
    async verify(credentials, subject) {
      let first: AuthResult | undefined;
      for (const v of verifiers) {
        const result = await v.verify(credentials, subject);
        if (result.ok) return result;
        first ??= result;
      }
      return first ?? { ok: false, reason: 'bad_credentials' };
    },
  };
}
