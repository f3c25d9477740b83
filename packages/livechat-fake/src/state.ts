/** The fake's world: clients (apps), the account that signs in, PATs, codes, tokens, webhooks. */
export interface FakeClient {
  readonly clientId: string;
  readonly clientSecret: string;
  /** Allowed redirect URIs: scheme and host must match exactly; the path may extend the configured one. */
  readonly redirectUris: readonly string[];
  /** The organization that owns the app (may register webhooks for it). */
  readonly ownerOrganizationId: string;
}

export interface FakeAccount {
  readonly accountId: string;
  readonly organizationId: string;
  readonly licenseId: number;
  readonly email: string;
}

export interface FakePat {
  readonly accountId: string;
  readonly token: string;
  readonly organizationId: string;
  readonly scopes: readonly string[];
  /** The groups the PAT's user belongs to: with `chats--access:*` (and no `chats--all:*`) only their chats are seen. */
  readonly groupIds?: readonly number[];
}

export interface CodeGrant {
  readonly clientId: string;
  readonly redirectUri: string;
  readonly codeChallenge: string | null;
  readonly codeChallengeMethod: 'S256' | 'plain';
  readonly account: FakeAccount;
  readonly expiresAt: number;
  used: boolean;
}

export interface AccessToken {
  readonly token: string;
  readonly clientId: string;
  readonly account: FakeAccount;
  readonly scopes: readonly string[];
  readonly expiresAt: number;
  readonly refreshToken: string;
  revoked: boolean;
}

export interface RefreshToken {
  readonly token: string;
  readonly clientId: string;
  readonly account: FakeAccount;
  readonly scopes: readonly string[];
  revoked: boolean;
}

export interface RegisteredWebhook {
  readonly id: string;
  readonly url: string;
  readonly description: string;
  readonly action: string;
  readonly secret_key: string;
  readonly filters: Readonly<Record<string, unknown>>;
  readonly additional_data: readonly string[];
  readonly owner_client_id: string;
  readonly type: 'license' | 'bot';
  readonly createdAt: number;
}

/** One Configuration API or token call as the fake saw it: for assertions, never with secrets. */
export interface RecordedCall {
  readonly path: string;
  readonly method: string;
  readonly auth: 'bearer' | 'pat' | 'none' | 'client';
  readonly status: number;
  readonly fault?: string;
}
