import type { TenantRegistry } from '@livechat-pipeline/tenant-registry';
import type { Logger } from 'pino';
import type { TokenCipher } from '../crypto/token-cipher.js';
import { AppError, errorForLog } from '../errors.js';
import type { ApiCredentials } from '../livechat/configuration-api.js';
import type { AccountsClient, TokenSet } from '../oauth/accounts-client.js';

const aad = (tenantId: string, field: 'access' | 'refresh') => `${tenantId}/${field}`;

/**
 * A tenant's OAuth tokens: sealed with AES-256-GCM before they reach Postgres, opened only in memory for a
 * call, refreshed before they expire (a background loop) and on use (when within the margin). Concurrent
 * refreshes of one tenant in this process share one request.
 */
export class TokenService {
  private readonly inflight = new Map<string, Promise<string>>();
  private timer: NodeJS.Timeout | undefined;
  private loop: Promise<void> | undefined;

  constructor(
    private readonly deps: {
      readonly registry: TenantRegistry;
      readonly cipher: TokenCipher;
      readonly accounts: AccountsClient;
      readonly logger: Logger;
      readonly marginSeconds: number;
    },
  ) {}

  async store(tenantId: string, tokens: TokenSet): Promise<void> {
    const access = this.deps.cipher.seal(tokens.accessToken, aad(tenantId, 'access'));
    const refresh =
      tokens.refreshToken === null
        ? null
        : this.deps.cipher.seal(tokens.refreshToken, aad(tenantId, 'refresh'));
    await this.deps.registry.saveTokens(tenantId, {
      accountId: tokens.accountId,
      keyId: access.keyId,
      accessTokenEnc: access.ciphertext,
      refreshTokenEnc: refresh?.ciphertext ?? null,
      scope: tokens.scope,
      accessExpiresAt: new Date(Date.now() + tokens.expiresIn * 1000),
    });
  }

  private async open(tenantId: string) {
    const stored = await this.deps.registry.getTokens(tenantId);
    if (stored === null)
      throw new AppError('APP_NO_TOKENS', 'this tenant has no stored tokens; connect again');
    const access = this.deps.cipher.open(
      { keyId: stored.keyId, ciphertext: stored.accessTokenEnc },
      aad(tenantId, 'access'),
    );
    const refresh =
      stored.refreshTokenEnc === null
        ? null
        : this.deps.cipher.open(
            { keyId: stored.keyId, ciphertext: stored.refreshTokenEnc },
            aad(tenantId, 'refresh'),
          );
    return { stored, access, refresh };
  }

  /** A usable access token: refreshed first when it expires within the margin (or was sealed by an old key). */
  async accessToken(tenantId: string): Promise<string> {
    const { stored, access } = await this.open(tenantId);
    const due = stored.accessExpiresAt.getTime() - Date.now() < this.deps.marginSeconds * 1000;
    if (!due && !this.deps.cipher.isStale(stored.keyId)) return access;
    return this.refresh(tenantId);
  }

  /** Refreshes now (one request per tenant at a time) and stores the new tokens. */
  refresh(tenantId: string): Promise<string> {
    let p = this.inflight.get(tenantId);
    if (p === undefined) {
      p = this.doRefresh(tenantId).finally(() => this.inflight.delete(tenantId));
      this.inflight.set(tenantId, p);
    }
    return p;
  }

  private async doRefresh(tenantId: string): Promise<string> {
    const { refresh } = await this.open(tenantId);
    if (refresh === null)
      throw new AppError('APP_TOKEN_REFRESH_FAILED', 'no refresh token stored; connect again');
    const next = await this.deps.accounts.refresh(refresh);
    await this.store(tenantId, next);
    this.deps.logger.info({ tenant_id: tenantId, expiresIn: next.expiresIn }, 'access token refreshed');
    return next.accessToken;
  }

  /** Bearer credentials for the Configuration API, refreshed on use and once more after a 401. */
  credentialsFor(tenantId: string): ApiCredentials {
    return {
      kind: 'bearer',
      authorization: async () => `Bearer ${await this.accessToken(tenantId)}`,
      onUnauthorized: async () => {
        await this.refresh(tenantId);
      },
    };
  }

  /** Revokes the tenant's tokens at LiveChat (best effort) and deletes them here. */
  async revokeAndDelete(tenantId: string): Promise<void> {
    try {
      const { access, refresh } = await this.open(tenantId);
      await this.deps.accounts.revoke({ accessToken: access, refreshToken: refresh });
    } catch (err) {
      if (!(err instanceof AppError && err.code === 'APP_NO_TOKENS'))
        this.deps.logger.warn(
          { tenant_id: tenantId, err: errorForLog(err) },
          'could not open tokens to revoke them',
        );
    }
    await this.deps.registry.deleteTokens(tenantId);
  }

  /** One pass of the refresher: every active tenant whose token expires within the margin. */
  async refreshDue(): Promise<number> {
    const due = await this.deps.registry.tokensExpiringBefore(
      new Date(Date.now() + this.deps.marginSeconds * 1000),
    );
    let n = 0;
    for (const t of due) {
      try {
        await this.refresh(t.tenantId);
        n += 1;
      } catch (err) {
        this.deps.logger.warn(
          { tenant_id: t.tenantId, err: errorForLog(err) },
          'scheduled token refresh failed',
        );
      }
    }
    return n;
  }

  startRefresher(intervalSeconds: number): void {
    const tick = () => {
      this.loop = this.refreshDue()
        .then(() => undefined)
        .catch((err: unknown) =>
          this.deps.logger.warn({ err: errorForLog(err) }, 'token refresher pass failed'),
        )
        .finally(() => {
          if (this.timer !== undefined) this.timer = setTimeout(tick, intervalSeconds * 1000).unref();
        });
    };
    this.timer = setTimeout(tick, 0).unref();
  }

  async stop(): Promise<void> {
    const t = this.timer;
    this.timer = undefined;
    if (t !== undefined) clearTimeout(t);
    await this.loop;
  }
}
