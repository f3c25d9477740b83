/**
 * The ingest's verifier contract (services/ingest/src/auth/verifier.ts), restated here structurally: a package
 * must not import a service, and TypeScript's structural typing makes an object of these shapes a
 * `WebhookSecretVerifier` for the ingest without an import in either direction.
 */
export type AuthCredentials =
  | { readonly format: 'v2'; readonly authorization: string | undefined }
  | { readonly format: 'v3'; readonly secretKey: string | undefined };

/**
 * The delivery's ONE tenant: the body's organization_id / license_id when present, else the path label, else
 * null (the ingest refuses a body tenant and a path label that differ before asking any verifier).
 */
export interface AuthSubject {
  readonly tenant: string | null;
  readonly action: string;
}

export type AuthFailureReason = 'missing_credentials' | 'malformed_credentials' | 'bad_credentials';

export type AuthResult = { readonly ok: true } | { readonly ok: false; readonly reason: AuthFailureReason };

export interface SecretVerifier {
  verify(credentials: AuthCredentials, subject: AuthSubject): AuthResult | Promise<AuthResult>;
}
