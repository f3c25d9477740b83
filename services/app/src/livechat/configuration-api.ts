import type { Logger } from 'pino';
import { z } from 'zod';
import { AppError } from '../errors.js';
import { callWithRetries } from '../http/retrying-fetch.js';
import type { RetryPolicy } from '../http/retrying-fetch.js';

/** How a call authenticates: a tenant's Bearer token (refreshed on use) or the operator's PAT (Basic). */
export interface ApiCredentials {
  readonly kind: 'bearer' | 'pat';
  /** The Authorization header value for the next attempt. */
  authorization(): Promise<string>;
  /** Called once after a 401 with a Bearer token: refresh and let the call retry once. */
  onUnauthorized?(): Promise<void>;
}

export function patCredentials(accountId: string, pat: string): ApiCredentials {
  const value = `Basic ${Buffer.from(`${accountId}:${pat}`, 'utf8').toString('base64')}`;
  return { kind: 'pat', authorization: async () => value };
}

/** A webhook as list_webhooks returns it (never with its secret). */
export interface RemoteWebhook {
  readonly id: string;
  readonly url: string;
  readonly description: string;
  readonly action: string;
  readonly filters: Readonly<Record<string, unknown>>;
  readonly additional_data: readonly string[];
  readonly owner_client_id: string;
  readonly type: string;
}

const remoteWebhook = z.object({
  id: z.string(),
  url: z.string(),
  description: z.string().default(''),
  action: z.string(),
  filters: z
    .record(z.string(), z.unknown())
    .nullish()
    .transform((f) => f ?? {}),
  additional_data: z
    .array(z.string())
    .nullish()
    .transform((a) => a ?? []),
  owner_client_id: z.string(),
  type: z.string(),
});

export interface RegisterWebhookInput {
  readonly action: string;
  readonly secretKey: string;
  readonly url: string;
  readonly description: string;
  readonly filters: Readonly<Record<string, unknown>>;
  readonly additionalData: readonly string[];
}

const apiError = z.object({ error: z.object({ type: z.string(), message: z.string().optional() }) });

/** Configuration API v3.6 webhook methods (SPEC §3.6), with retries and one log line per attempt. */
export class ConfigurationApi {
  constructor(
    private readonly options: { apiUrl: string; ownerClientId: string; policy: RetryPolicy },
    private readonly credentials: ApiCredentials,
    private readonly logger: Logger,
  ) {}

  get ownerClientId(): string {
    return this.options.ownerClientId;
  }

  private async call(method: string, params: Record<string, unknown>): Promise<unknown> {
    let refreshed = false;
    for (;;) {
      const res = await callWithRetries(
        `configuration.${method}`,
        async () => ({
          url: `${this.options.apiUrl}/configuration/action/${method}`,
          init: {
            method: 'POST',
            headers: {
              'content-type': 'application/json',
              authorization: await this.credentials.authorization(),
            },
            body: JSON.stringify(params),
          },
        }),
        this.options.policy,
        this.logger,
      );
      if (res.status === 401 && !refreshed && this.credentials.onUnauthorized !== undefined) {
        refreshed = true;
        await this.credentials.onUnauthorized();
        continue;
      }
      let json: unknown;
      try {
        json = res.text === '' ? {} : JSON.parse(res.text);
      } catch {
        json = undefined;
      }
      if (res.status === 200) return json;
      const err = apiError.safeParse(json);
      const type = err.success ? err.data.error.type : 'unknown';
      const message = err.success ? (err.data.error.message ?? '') : '';
      if (method === 'register_webhook' && (type === 'limit_reached' || /limit/i.test(message))) {
        throw new AppError('APP_WEBHOOK_LIMIT', `register_webhook: ${message}`, {
          details: { livechat_error: type },
        });
      }
      throw new AppError(
        'APP_LIVECHAT_REJECTED',
        `${method} refused: HTTP ${res.status} ${type}${message === '' ? '' : `: ${message}`}`,
        {
          details: { status: res.status, livechat_error: type },
        },
      );
    }
  }

  async listWebhooks(): Promise<RemoteWebhook[]> {
    const json = await this.call('list_webhooks', { owner_client_id: this.options.ownerClientId });
    const parsed = z.array(remoteWebhook).safeParse(json);
    if (!parsed.success)
      throw new AppError('APP_LIVECHAT_REJECTED', 'list_webhooks answered an unexpected shape');
    return parsed.data;
  }

  async registerWebhook(input: RegisterWebhookInput): Promise<string> {
    const body: Record<string, unknown> = {
      action: input.action,
      secret_key: input.secretKey,
      url: input.url,
      description: input.description,
      owner_client_id: this.options.ownerClientId,
      type: 'license',
    };
    if (Object.keys(input.filters).length > 0) body['filters'] = input.filters;
    if (input.additionalData.length > 0) body['additional_data'] = input.additionalData;
    const json = await this.call('register_webhook', body);
    const parsed = z
      .object({ id: z.string().min(1) })
      .or(z.object({ webhook_id: z.string().min(1) }))
      .safeParse(json);
    if (!parsed.success)
      throw new AppError('APP_LIVECHAT_REJECTED', 'register_webhook answered without an id');
    return 'id' in parsed.data ? parsed.data.id : parsed.data.webhook_id;
  }

  async unregisterWebhook(id: string): Promise<void> {
    await this.call('unregister_webhook', { id, owner_client_id: this.options.ownerClientId });
  }
}
