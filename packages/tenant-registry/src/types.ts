export type TenantStatus = 'active' | 'inactive';

export interface Tenant {
  readonly id: string;
  readonly clientId: string;
  readonly organizationId: string;
  readonly licenseId: string | null;
  readonly status: TenantStatus;
  readonly installedAt: Date;
  readonly uninstalledAt: Date | null;
  readonly lastWebhookAt: Date | null;
}

/** Tokens as stored: ciphertext only, with the id of the key that sealed them. */
export interface StoredTokens {
  readonly tenantId: string;
  readonly accountId: string | null;
  readonly keyId: string;
  readonly accessTokenEnc: Buffer;
  readonly refreshTokenEnc: Buffer | null;
  readonly scope: string;
  readonly accessExpiresAt: Date;
  readonly refreshedAt: Date;
}

export type RegistrationStatus = 'active' | 'retiring' | 'deleted';

/** The part of a webhook definition the app compares with the declarative list. */
export interface WebhookDefinition {
  readonly description?: string;
  readonly filters?: Readonly<Record<string, unknown>>;
  readonly additional_data?: readonly string[];
}

export interface WebhookRegistration {
  readonly id: string;
  readonly ownerClientId: string;
  readonly action: string;
  readonly url: string;
  readonly secretHash: string;
  readonly definition: WebhookDefinition;
  readonly status: RegistrationStatus;
  readonly createdAt: Date;
  readonly retiredAt: Date | null;
  /** While retiring: when the secret stops being accepted even if the rotation never finished. */
  readonly retiringUntil: Date | null;
  readonly deletedAt: Date | null;
}
