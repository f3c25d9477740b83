/**
 * How ingest decides whether a delivery comes from LiveChat. Implementations: StaticSecretVerifier (env and
 * tenant secrets file); a later one can read a Postgres tenant registry. Implementations must compare in
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
  /** Tenant ids to look secrets up by: the body's license_id / organization_id, then the path label. */
  readonly tenantIds: readonly string[];
  readonly action: string;
}

export type AuthFailureReason = 'missing_credentials' | 'malformed_credentials' | 'bad_credentials';

export type AuthResult = { readonly ok: true } | { readonly ok: false; readonly reason: AuthFailureReason };

export interface WebhookSecretVerifier {
  verify(credentials: AuthCredentials, subject: AuthSubject): AuthResult | Promise<AuthResult>;
}
