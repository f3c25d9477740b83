/**
 * How ingest decides whether a delivery comes from LiveChat. Implementations: StaticSecretVerifier (env and
 * tenant secrets file) and the tenant registry's verifier (packages/tenant-registry). Implementations must compare in
 * constant time and must never log or return the secrets they check.
 */
export type AuthCredentials =
  | {
      readonly format: 'v2';
      /** The raw Authorization header, if any. */
      readonly authorization: string | undefined;
    }
  | {
      readonly format: 'v3';
      /** The body's secret_key, if it is a string. */
      readonly secretKey: string | undefined;
    };

export interface AuthSubject {
  /**
   * The delivery's tenant: the body's organization_id / license_id when present, else the path label, else null.
   * A verifier checks only this tenant's secrets (plus, in the static verifier, the global lists when they are
   * allowed). Body and path naming different tenants never reaches a verifier (401 INGEST_TENANT_MISMATCH).
   */
  readonly tenant: string | null;
  readonly action: string;
}

export type AuthFailureReason = 'missing_credentials' | 'malformed_credentials' | 'bad_credentials';

export type AuthResult = { readonly ok: true } | { readonly ok: false; readonly reason: AuthFailureReason };

export interface WebhookSecretVerifier {
  verify(credentials: AuthCredentials, subject: AuthSubject): AuthResult | Promise<AuthResult>;
}
