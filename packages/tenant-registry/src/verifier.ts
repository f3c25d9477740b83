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
  /** Called when a refresh or a miss look-up fails; the previous set stays in force. Must not throw. */
  readonly onError?: (err: Error) => void;
  /**
   * A secret missing from the in-memory set is looked up in Postgres for the delivery's tenant before it is
   * refused (a registration made since the last refresh is accepted at once). At most one look-up per tenant
   * per this many ms: a miss arriving sooner waits for the next one (never longer than this). Default 1000.
   */
  readonly missLookupIntervalMs?: number;
  /** Look-ups per second over all tenants (token bucket); a miss beyond it is refused at once. Default 50. */
  readonly missLookupsPerSecond?: number;
  /** How many tenants' last look-up times are remembered (least recently used dropped). Default 10000. */
  readonly missLookupTenantCap?: number;
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

/** A tenant's miss look-up: when the last one started, and the one in flight or scheduled. */
interface Lookup {
  startedAt: number;
  next: Promise<readonly Accepted[] | null> | undefined;
}

/** Counters for /metrics and tests. */
export interface RegistryVerifierStats {
  /** Queries made for a tenant after a miss. */
  readonly missLookups: number;
  /** Misses refused without a query because the global look-up budget was spent. */
  readonly missLookupsThrottled: number;
  /** Deliveries accepted thanks to a miss look-up (registered since the last refresh). */
  readonly missLookupHits: number;
}

/** Tenant ids longer than this are never looked up (no registered tenant has one). */
const MAX_TENANT_ID_LENGTH = 128;

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
 * The set lives in memory as SHA-256 digests, reloaded every `refreshMs`, and compared in constant time. A
 * secret the set does not hold is looked up for that one tenant in Postgres before it is refused, so a webhook
 * registered a moment ago is accepted at once (no race with the refresh); look-ups are limited per tenant and
 * overall, so misses cannot become a query flood. v2 deliveries are never accepted here (no v2 registration
 * exists).
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
  private readonly lookups = new Map<string, Lookup>();
  private readonly lookupIntervalMs: number;
  private readonly lookupsPerSecond: number;
  private readonly lookupTenantCap: number;
  private tokens: number;
  private tokensAt = Date.now();
  private counters = { missLookups: 0, missLookupsThrottled: 0, missLookupHits: 0 };

  constructor(
    private readonly pool: pg.Pool,
    private readonly options: RegistrySecretVerifierOptions = {},
  ) {
    const schema = options.schema ?? DEFAULT_REGISTRY_SCHEMA;
    this.s = quoteSchema(schema);
    this.registry = new TenantRegistry(pool, { schema });
    this.refreshMs = options.refreshMs ?? 1000;
    this.lookupIntervalMs = options.missLookupIntervalMs ?? 1000;
    this.lookupsPerSecond = options.missLookupsPerSecond ?? 50;
    this.lookupTenantCap = options.missLookupTenantCap ?? 10_000;
    this.tokens = this.lookupsPerSecond;
  }

  /** Whether `tenant` (an organization_id or license_id) is an active tenant of the last loaded set. */
  knowsTenant(tenant: string): boolean {
    return this.snapshot.byTenant.has(tenant);
  }

  get stats(): RegistryVerifierStats {
    return { ...this.counters };
  }

  /**
   * Loads the set once and starts the refresh loop. Throws when Postgres cannot be reached; when it can but the
   * registry is not there yet (the app has not migrated, or not granted this role its access), it starts with
   * an empty set, reports that through `onError`, refuses every registry secret and keeps trying at each
   * refresh until the tables appear.
   */
  async start(): Promise<this> {
    try {
      await this.refresh();
    } catch (err) {
      if (!registryNotThereYet(err)) throw err;
      this.options.onError?.(err as Error);
    }
    this.schedule();
    return this;
  }

  /** False until the registry's tables were read once (the app has not migrated yet, or no access). */
  get loaded(): boolean {
    return this.snapshot.loadedAt.getTime() > 0;
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
    const r = await this.pool.query<Row>(this.acceptedSql());
    const byTenant = new Map<string, Accepted[]>();
    for (const row of r.rows) {
      const accepted = acceptedOf(row, started);
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

  /** Live secrets of active tenants; with `$1`, of the tenant with that organization or license id only. */
  private acceptedSql(oneTenant = false): string {
    return `select t.organization_id, t.license_id, r.secret_hash,
              case when r.status = 'retiring'
                then extract(epoch from (r.retiring_until - now())) * 1000 end::float8 as retiring_ms_left
         from ${this.s}.tenants t
         join ${this.s}.webhook_registrations r on r.owner_client_id = t.client_id
        where t.status = 'active'
          and (r.status = 'active' or (r.status = 'retiring' and r.retiring_until > now()))
          ${oneTenant ? 'and (t.organization_id = $1 or t.license_id = $1)' : ''}`;
  }

  /**
   * The tenant's accepted secrets as Postgres has them now, by a look-up that starts after this call (so it
   * sees every registration committed before the delivery arrived): at once when the tenant's last look-up is
   * older than the interval, else when the interval is over (concurrent misses share it). Null when the
   * global budget is spent or Postgres fails.
   */
  private lookUp(tenant: string): Promise<readonly Accepted[] | null> {
    let entry = this.lookups.get(tenant);
    if (entry?.next !== undefined) return entry.next;
    if (entry === undefined) {
      entry = { startedAt: -Infinity, next: undefined };
      if (this.lookups.size >= this.lookupTenantCap) {
        const oldest = this.lookups.keys().next().value;
        if (oldest !== undefined) this.lookups.delete(oldest);
      }
    } else this.lookups.delete(tenant); // re-inserted below: most recently used last
    this.lookups.set(tenant, entry);
    const e = entry;
    const delay = Math.max(0, e.startedAt + this.lookupIntervalMs - Date.now());
    const run = async (): Promise<readonly Accepted[] | null> => {
      if (delay > 0) await new Promise((resolve) => setTimeout(resolve, delay).unref());
      else await Promise.resolve(); // never settle `next` before it is assigned below
      e.startedAt = Date.now();
      // misses from now on were not seen by this look-up: they get their own
      e.next = undefined;
      if (this.closed || !this.takeToken()) {
        this.counters.missLookupsThrottled += 1;
        return null;
      }
      this.counters.missLookups += 1;
      try {
        const r = await this.pool.query<Row>(this.acceptedSql(true), [tenant]);
        const accepted = r.rows.map((row) => acceptedOf(row, e.startedAt));
        // later deliveries of this tenant hit the set (until the next refresh replaces it)
        const byTenant = this.snapshot.byTenant as Map<string, readonly Accepted[]>;
        if (accepted.length > 0) byTenant.set(tenant, accepted);
        else byTenant.delete(tenant);
        return accepted;
      } catch (err) {
        this.options.onError?.(err instanceof Error ? err : new Error(String(err)));
        return null;
      }
    };
    const next = run();
    e.next = next;
    return next;
  }

  private takeToken(): boolean {
    const now = Date.now();
    this.tokens = Math.min(
      this.lookupsPerSecond,
      this.tokens + ((now - this.tokensAt) / 1000) * this.lookupsPerSecond,
    );
    this.tokensAt = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
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
    return this.matches(secretKey, tenant, entries ?? []);
  }

  private matches(secretKey: string, tenant: string | null, entries: readonly Accepted[]): boolean {
    // A retiring secret past its expiry no longer counts, even before the next refresh (or when it fails).
    const now = Date.now();
    const digests = entries.filter((e) => e.until === null || e.until > now).map((e) => e.digest);
    // Always hash and compare, even with nothing to compare against.
    const ok = matchesAnyDigest(secretKey, digests) && secretKey !== '' && digests.length > 0;
    if (ok && tenant !== null && this.options.recordLastWebhook === true) this.pending.add(tenant);
    return ok;
  }

  /**
   * As `verifyV3Secret`, but a miss is looked up in Postgres for that tenant before it is refused (limited per
   * tenant and overall; see the options).
   */
  async verifyV3SecretFresh(secretKey: string, tenant: string | null): Promise<boolean> {
    if (this.verifyV3Secret(secretKey, tenant)) return true;
    if (tenant === null || tenant === '' || tenant.length > MAX_TENANT_ID_LENGTH || secretKey === '')
      return false;
    const fresh = await this.lookUp(tenant);
    if (fresh === null || !this.matches(secretKey, tenant, fresh)) return false;
    this.counters.missLookupHits += 1;
    return true;
  }

  /** The ingest's `WebhookSecretVerifier.verify`: v3 only, and only for the delivery's one tenant. */
  verify(credentials: AuthCredentials, subject: AuthSubject): AuthResult | Promise<AuthResult> {
    if (credentials.format !== 'v3') return { ok: false, reason: 'bad_credentials' };
    if (credentials.secretKey === undefined || credentials.secretKey === '')
      return { ok: false, reason: 'missing_credentials' };
    const ok: AuthResult = { ok: true };
    const refused: AuthResult = { ok: false, reason: 'bad_credentials' };
    if (this.verifyV3Secret(credentials.secretKey, subject.tenant)) return ok;
    return this.verifyV3SecretFresh(credentials.secretKey, subject.tenant).then((hit) =>
      hit ? ok : refused,
    );
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

/** Postgres errors meaning "the app has not migrated (or granted) yet": no schema, table, column or privilege. */
function registryNotThereYet(err: unknown): boolean {
  const code = (err as { code?: unknown }).code;
  return code === '3F000' || code === '42P01' || code === '42703' || code === '42501';
}

function acceptedOf(row: Row, startedAt: number): Accepted {
  // measured from before the query was sent: an expiry never moves later than Postgres' own
  const until = row.retiring_ms_left === null ? null : startedAt + row.retiring_ms_left;
  return { digest: Buffer.from(row.secret_hash, 'hex'), until };
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
