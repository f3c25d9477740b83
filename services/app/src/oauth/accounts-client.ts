import type { Logger } from 'pino';
import { z } from 'zod';
import { AppError } from '../errors.js';
import { callWithRetries } from '../http/retrying-fetch.js';
import type { RetryPolicy } from '../http/retrying-fetch.js';

export interface TokenSet {
  readonly accessToken: string;
  readonly refreshToken: string | null;
  readonly expiresIn: number;
  readonly accountId: string | null;
  readonly organizationId: string;
  readonly scope: string;
}

const tokenResponse = z.object({
  access_token: z.string().min(1),
  refresh_token: z.string().min(1).optional(),
  expires_in: z.number().int().positive(),
  account_id: z.string().optional(),
  organization_id: z.string().min(1),
  scope: z.string().default(''),
  token_type: z.string().optional(),
});

const oauthErrorBody = z.object({ error: z.string(), error_description: z.string().optional() }).partial();

/** LiveChat accounts (OAuth 2.1): authorize URL, code exchange, refresh, revoke (SPEC §5). */
export class AccountsClient {
  constructor(
    private readonly options: {
      accountsUrl: string;
      clientId: string;
      clientSecret: string;
      policy: RetryPolicy;
    },
    private readonly logger: Logger,
  ) {}

  authorizeUrl(input: { redirectUri: string; state: string; codeChallenge: string }): string {
    const url = new URL(`${this.options.accountsUrl}/`);
    url.searchParams.set('response_type', 'code');
    url.searchParams.set('client_id', this.options.clientId);
    url.searchParams.set('redirect_uri', input.redirectUri);
    url.searchParams.set('state', input.state);
    url.searchParams.set('code_challenge', input.codeChallenge);
    url.searchParams.set('code_challenge_method', 'S256');
    return url.toString();
  }

  exchangeCode(input: { code: string; redirectUri: string; codeVerifier: string }): Promise<TokenSet> {
    return this.token('token.authorization_code', {
      grant_type: 'authorization_code',
      code: input.code,
      redirect_uri: input.redirectUri,
      code_verifier: input.codeVerifier,
    });
  }

  refresh(refreshToken: string): Promise<TokenSet> {
    return this.token('token.refresh', { grant_type: 'refresh_token', refresh_token: refreshToken });
  }

  private async token(what: string, params: Record<string, string>): Promise<TokenSet> {
    const body = new URLSearchParams({
      ...params,
      client_id: this.options.clientId,
      client_secret: this.options.clientSecret,
    });
    // A code is single-use: never retry its exchange on an ambiguous failure. Refreshes may be retried.
    const policy =
      params['grant_type'] === 'authorization_code'
        ? { ...this.options.policy, maxRetries: 0 }
        : this.options.policy;
    const res = await callWithRetries(
      what,
      async () => ({
        url: `${this.options.accountsUrl}/v2/token`,
        init: {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
          body: body.toString(),
        },
      }),
      policy,
      this.logger,
    );
    let json: unknown;
    try {
      json = JSON.parse(res.text);
    } catch {
      json = undefined;
    }
    if (res.status !== 200) {
      const err = oauthErrorBody.safeParse(json);
      const code = err.success ? (err.data.error ?? 'unknown') : 'unknown';
      const description = err.success ? (err.data.error_description ?? '') : '';
      if (code === 'invalid_client')
        throw new AppError('APP_OAUTH_CLIENT_REJECTED', `LiveChat refused the client credentials (${code})`);
      if (params['grant_type'] === 'refresh_token')
        throw new AppError('APP_TOKEN_REFRESH_FAILED', `refresh refused: ${code} ${description}`.trim(), {
          details: { oauth_error: code },
        });
      throw new AppError(
        'APP_OAUTH_CODE_REJECTED',
        `the token endpoint refused the code: ${code}${description === '' ? '' : ` (${description})`}`,
        { details: { oauth_error: code } },
      );
    }
    const parsed = tokenResponse.safeParse(json);
    if (!parsed.success)
      throw new AppError(
        'APP_OAUTH_TOKEN_RESPONSE_INVALID',
        'the token endpoint answered 200 without access_token / expires_in / organization_id',
      );
    const t = parsed.data;
    return {
      accessToken: t.access_token,
      refreshToken: t.refresh_token ?? params['refresh_token'] ?? null,
      expiresIn: t.expires_in,
      accountId: t.account_id ?? null,
      organizationId: t.organization_id,
      scope: t.scope,
    };
  }

  /** Revokes an access token (Bearer) and a refresh token (?code=); failures are logged, not thrown. */
  async revoke(tokens: { accessToken: string | null; refreshToken: string | null }): Promise<void> {
    const attempts: Array<[string, () => Promise<{ url: string; init: RequestInit }>]> = [];
    const { accessToken, refreshToken } = tokens;
    if (accessToken !== null) {
      attempts.push([
        'token.revoke_access',
        async () => ({
          url: `${this.options.accountsUrl}/v2/token`,
          init: { method: 'DELETE', headers: { authorization: `Bearer ${accessToken}` } },
        }),
      ]);
    }
    if (refreshToken !== null) {
      attempts.push([
        'token.revoke_refresh',
        async () => ({
          url: `${this.options.accountsUrl}/v2/token?code=${encodeURIComponent(refreshToken)}`,
          init: { method: 'DELETE' },
        }),
      ]);
    }
    for (const [what, make] of attempts) {
      try {
        await callWithRetries(
          what,
          make,
          { ...this.options.policy, maxRetries: Math.min(2, this.options.policy.maxRetries) },
          this.logger,
        );
      } catch (err) {
        this.logger.warn(
          { livechat_call: what, code: err instanceof AppError ? err.code : 'unknown' },
          'token revocation failed; the token is deleted here anyway',
        );
      }
    }
  }
}
