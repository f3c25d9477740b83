import type { BasicCredential, IngestConfig } from '../config.js';
import { basicAuthToken, parseBasicAuth } from './basic-auth.js';
import { SecretSet } from './secret-set.js';
import type { AuthCredentials, AuthResult, AuthSubject, WebhookSecretVerifier } from './verifier.js';

interface Sets {
  readonly secretKeys: SecretSet;
  readonly basic: SecretSet;
}

function setsOf(secretKeys: readonly string[], basic: readonly BasicCredential[]): Sets {
  return {
    secretKeys: new SecretSet(secretKeys),
    basic: new SecretSet(basic.map((c) => basicAuthToken(c.user, c.password))),
  };
}

/**
 * Secrets from configuration: the global lists (LIVECHAT_BASIC_AUTH, LIVECHAT_SECRET_KEYS) are accepted for
 * every tenant when `globalSecretsAllowed` (single-tenant deployments, or INGEST_ALLOW_GLOBAL_SECRETS=true);
 * a tenant listed in LIVECHAT_TENANT_SECRETS_FILE additionally accepts its own — only for a
 * delivery whose one tenant (`subject.tenant`) is that tenant. Several values per list allow rotation without
 * a gap.
 */
export class StaticSecretVerifier implements WebhookSecretVerifier {
  private readonly global: Sets;
  private readonly tenants: ReadonlyMap<string, Sets>;
  private readonly globalAllowed: boolean;

  constructor(
    auth: Pick<IngestConfig['auth'], 'secretKeys' | 'basicAuth' | 'tenants' | 'globalSecretsAllowed'>,
  ) {
    this.global = setsOf(auth.secretKeys, auth.basicAuth);
    this.globalAllowed = auth.globalSecretsAllowed;
    this.tenants = new Map(
      Object.entries(auth.tenants).map(([id, t]) => [id, setsOf(t.secretKeys, t.basicAuth)]),
    );
  }

  verify(credentials: AuthCredentials, subject: AuthSubject): AuthResult {
    const candidates: Sets[] = this.globalAllowed ? [this.global] : [];
    const own = subject.tenant === null ? undefined : this.tenants.get(subject.tenant);
    if (own !== undefined) candidates.push(own);
    if (credentials.format === 'v3') {
      if (credentials.secretKey === undefined || credentials.secretKey === '')
        return { ok: false, reason: 'missing_credentials' };
      const key = credentials.secretKey;
      let ok = false;
      for (const sets of candidates) if (sets.secretKeys.matches(key)) ok = true;
      return ok ? { ok: true } : { ok: false, reason: 'bad_credentials' };
    }
    const pair = parseBasicAuth(credentials.authorization);
    if (pair === undefined) return { ok: false, reason: 'missing_credentials' };
    if (pair === null) return { ok: false, reason: 'malformed_credentials' };
    const token = basicAuthToken(pair.user, pair.password);
    let ok = false;
    for (const sets of candidates) if (sets.basic.matches(token)) ok = true;
    return ok ? { ok: true } : { ok: false, reason: 'bad_credentials' };
  }
}
