import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type pg from 'pg';
import { ApiError } from './errors.js';
import { quoteIdent } from './migrations.js';

/** Who a request is: the tenant every query is scoped to. */
export interface Principal {
  readonly tenant: string;
  /** The API key's id (for a session: the id of the key the session was opened with). */
  readonly keyId: string;
  readonly admin: boolean;
  readonly via: 'key' | 'session';
}

export interface ApiKeyRecord {
  readonly id: string;
  readonly tenant: string;
  readonly name: string;
  readonly admin: boolean;
  /** RFC 3339. */
  readonly createdAt: string;
  readonly revokedAt: string | null;
}

/**
 * Key format: `lcp_<id>_<secret>`, id 16 hex characters (public, names the key), secret 32 random bytes in
 * base64url. Only SHA-256(secret) is stored.
 */
const KEY_PATTERN = /^lcp_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$/;
const sha256 = (value: string): Buffer => createHash('sha256').update(value, 'utf8').digest();
/** Compared against when the id is unknown, so that an unknown id costs what a wrong secret costs. */
const DECOY_DIGEST = sha256(randomBytes(32).toString('base64url'));

export class ApiKeyStore {
  private readonly table: string;

  constructor(
    private readonly pool: pg.Pool,
    schema: string,
  ) {
    this.table = `${quoteIdent(schema)}.api_keys`;
  }

  /** Creates a key and returns it in full: the only time the secret exists outside the caller. */
  async create(input: {
    tenant: string;
    name?: string;
    admin?: boolean;
  }): Promise<{ key: string; record: ApiKeyRecord }> {
    const tenant = input.tenant.trim();
    if (tenant === '') throw new ApiError('API_BAD_PARAMETER', 'tenant must not be empty');
    const id = randomBytes(8).toString('hex');
    const secret = randomBytes(32).toString('base64url');
    const { rows } = await this.pool.query<RawKeyRow>(
      `insert into ${this.table} (id, tenant, name, secret_sha256, admin) values ($1, $2, $3, $4, $5)
       returning id, tenant, name, admin, created_at, revoked_at`,
      [id, tenant, input.name ?? '', sha256(secret), input.admin ?? false],
    );
    return { key: `lcp_${id}_${secret}`, record: toRecord(rows[0]!) };
  }

  async list(tenant?: string): Promise<ApiKeyRecord[]> {
    const { rows } = await this.pool.query<RawKeyRow>(
      `select id, tenant, name, admin, created_at, revoked_at from ${this.table}
       where $1::text is null or tenant = $1 order by tenant, created_at, id`,
      [tenant ?? null],
    );
    return rows.map(toRecord);
  }

  /** Revokes a key by id; revoking a revoked key is a no-op that returns it. */
  async revoke(id: string): Promise<ApiKeyRecord> {
    const { rows } = await this.pool.query<RawKeyRow>(
      `update ${this.table} set revoked_at = coalesce(revoked_at, now()) where id = $1
       returning id, tenant, name, admin, created_at, revoked_at`,
      [id],
    );
    if (rows[0] === undefined)
      throw new ApiError('API_KEY_NOT_FOUND', `no API key with id ${JSON.stringify(id)}`);
    return toRecord(rows[0]);
  }

  /**
   * The principal of a key by its id alone, null when unknown or revoked: for a session that stored the id at
   * sign-in (so that revoking the key ends its sessions). Never for a presented credential: use verify.
   */
  async principalOfKeyId(id: string, via: Principal['via'] = 'session'): Promise<Principal | null> {
    const { rows } = await this.pool.query<{ tenant: string; admin: boolean }>({
      name: `api_key_id_${this.table}`,
      text: `select tenant, admin from ${this.table} where id = $1 and revoked_at is null`,
      values: [id],
    });
    const row = rows[0];
    return row === undefined ? null : { tenant: row.tenant, keyId: id, admin: row.admin, via };
  }

  /**
   * The principal of a presented key, or null. The secret's digest is compared in constant time, and an unknown
   * or revoked id is compared against a decoy, so the time taken does not say which part was wrong.
   */
  async verify(presented: string): Promise<Principal | null> {
    const match = KEY_PATTERN.exec(presented);
    if (match === null) {
      // the format is public: a malformed key costs a digest (as a real check does) but no database round trip
      timingSafeEqual(sha256(presented), DECOY_DIGEST);
      return null;
    }
    const id = match[1]!;
    const probe = sha256(match[2]!);
    const { rows } = await this.pool.query<{ tenant: string; admin: boolean; secret_sha256: Buffer }>({
      name: `api_key_${this.table}`,
      text: `select tenant, admin, secret_sha256 from ${this.table} where id = $1 and revoked_at is null`,
      values: [id],
    });
    const row = rows[0];
    const stored = row?.secret_sha256 ?? DECOY_DIGEST;
    const equal = stored.length === probe.length && timingSafeEqual(stored, probe);
    if (row === undefined || !equal) return null;
    return { tenant: row.tenant, keyId: id, admin: row.admin, via: 'key' };
  }
}

interface RawKeyRow {
  id: string;
  tenant: string;
  name: string;
  admin: boolean;
  created_at: Date | string;
  revoked_at: Date | string | null;
}

const toRecord = (r: RawKeyRow): ApiKeyRecord => ({
  id: r.id,
  tenant: r.tenant,
  name: r.name,
  admin: r.admin,
  createdAt: rfc3339(r.created_at),
  revokedAt: r.revoked_at === null ? null : rfc3339(r.revoked_at),
});

/** The api's pool gives times as RFC 3339 text already; any other pool gives a Date. */
const rfc3339 = (value: Date | string): string => (typeof value === 'string' ? value : value.toISOString());
