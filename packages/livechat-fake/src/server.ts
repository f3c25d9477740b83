import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  accountEndpoint,
  authorizeDecision,
  authorizePage,
  infoEndpoint,
  issueCode,
  revokeEndpoint,
  tokenEndpoint,
} from './accounts.js';
import { agentChatApi } from './agent-chat-api.js';
import type { ArchiveRow } from './agent-chat-api.js';
import { configurationApi } from './configuration-api.js';
import { lifecycleBody, postJson, v36Envelope } from './delivery.js';
import type { DeliveryResult, LifecycleEvent } from './delivery.js';
import type { Fault, FaultPlan } from './faults.js';
import { sendJson } from './http-util.js';
import type { RecordedCall, RegisteredWebhook } from './state.js';
import { FakeWorld } from './world.js';
import type { FakeLiveChatOptions } from './world.js';

/**
 * A local LiveChat: accounts (authorize page at `/`, `/v2/token`, revoke, `/v2/info`) and the Configuration
 * API at `/<version>/configuration/action/<method>`, on one loopback port. It also delivers webhooks and app
 * lifecycle events to a URL, as LiveChat does.
 */
export class FakeLiveChat {
  private readonly world: FakeWorld;
  private server: Server | undefined;
  private base = '';

  constructor(options: FakeLiveChatOptions) {
    this.world = new FakeWorld(options);
  }

  async start(): Promise<this> {
    const version = this.world.options.apiVersion ?? 'v3.6';
    const apiPath = new RegExp(`^/${version.replace('.', '\\.')}/configuration/action/([a-z_]+)$`);
    const agentPath = new RegExp(`^/${version.replace('.', '\\.')}/agent/action/([a-z_]+)$`);
    this.server = createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://fake.local');
      const route = async () => {
        const api = apiPath.exec(url.pathname);
        if (api !== null && req.method === 'POST') return configurationApi(this.world, api[1]!, req, res);
        const agent = agentPath.exec(url.pathname);
        if (agent !== null && req.method === 'POST') return agentChatApi(this.world, agent[1]!, req, res);
        if (url.pathname === '/' && req.method === 'GET') return authorizePage(this.world, url, res);
        if (url.pathname === '/authorize/decision' && req.method === 'GET')
          return authorizeDecision(this.world, url, res);
        if (url.pathname === '/v2/token' && req.method === 'POST') return tokenEndpoint(this.world, req, res);
        if (url.pathname === '/v2/token' && req.method === 'DELETE')
          return revokeEndpoint(this.world, url, req, res);
        if (url.pathname === '/v2/info' && req.method === 'GET') return infoEndpoint(this.world, req, res);
        const account = /^\/v2\/accounts\/([^/]+)$/.exec(url.pathname);
        if (account !== null && req.method === 'GET')
          return accountEndpoint(this.world, decodeURIComponent(account[1]!), req, res);
        sendJson(res, 404, { error: { type: 'not_found', message: 'no such route in the fake' } });
      };
      route().catch(() => {
        if (!res.headersSent) sendJson(res, 500, { error: { type: 'internal', message: 'fake failed' } });
        else res.destroy();
      });
    });
    const server = this.server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.world.options.port ?? 0, this.world.options.host ?? '127.0.0.1', () => resolve());
    });
    const addr = server.address() as AddressInfo;
    this.base = `http://${addr.address}:${addr.port}`;
    return this;
  }

  /** Accounts base URL (LIVECHAT_ACCOUNTS_URL). */
  get accountsUrl(): string {
    return this.base;
  }

  /** API base URL (LIVECHAT_API_URL), e.g. http://127.0.0.1:1234/v3.6 */
  get apiUrl(): string {
    return `${this.base}/${this.world.options.apiVersion ?? 'v3.6'}`;
  }

  /** Webhooks as registered, secrets included (the fake's private view). */
  webhooks(): RegisteredWebhook[] {
    return [...this.world.webhooks.values()];
  }

  calls(): readonly RecordedCall[] {
    return this.world.calls;
  }

  injectFaults(...faults: Fault[]): void {
    this.world.faults.enqueue(...faults);
  }

  setFaultPlan(plan: FaultPlan | undefined): void {
    this.world.faults.setPlan(plan);
  }

  clearFaults(): void {
    this.world.faults.clear();
  }

  /** Faults of the Agent Chat API, consumed one per call (then the plan). */
  injectAgentFaults(...faults: Fault[]): void {
    this.world.agentFaults.enqueue(...faults);
  }

  setAgentFaultPlan(plan: FaultPlan | undefined): void {
    this.world.agentFaults.setPlan(plan);
  }

  /**
   * The chats the Agent Chat API serves to tokens of `organizationId` (default: the signing-in account's), one row per
   * thread (list_archives' shape); a thread already there is replaced (e.g. it closed since). Feed it the
   * simulator's archive rendering of the chats the webhooks describe.
   */
  upsertArchives(
    rows: readonly ArchiveRow[],
    organizationId = this.world.options.account.organizationId,
  ): void {
    this.world.agentChat.upsert(organizationId, rows);
  }

  /** Threads the Agent Chat API serves. */
  archiveCount(): number {
    return this.world.agentChat.size;
  }

  /** Issues an authorization code without the browser (as if "Allow" had been clicked). */
  issueCode(input: { clientId: string; redirectUri: string; codeChallenge: string }): string {
    return issueCode(this.world, input);
  }

  /** Whether an access or refresh token is still good (not revoked, not expired). */
  tokenIsLive(token: string): boolean {
    const at = this.world.accessTokens.get(token);
    if (at !== undefined) return !at.revoked && at.expiresAt > this.world.now();
    const rt = this.world.refreshTokens.get(token);
    return rt !== undefined && !rt.revoked;
  }

  /** Access tokens issued so far (newest last). */
  issuedAccessTokens(): string[] {
    return [...this.world.accessTokens.keys()];
  }

  /** Refresh tokens issued so far. */
  issuedRefreshTokens(): string[] {
    return [...this.world.refreshTokens.keys()];
  }

  /** Delivers one webhook as LiveChat would: to its URL, with its secret_key, in the v3.6 envelope. */
  async deliver(
    webhookId: string,
    input: { organizationId: string; payload: unknown; additionalData?: Record<string, unknown> },
  ): Promise<DeliveryResult> {
    const webhook = this.world.webhooks.get(webhookId);
    if (webhook === undefined) throw new Error(`the fake has no webhook ${webhookId}`);
    const r = await postJson(webhook.url, v36Envelope(webhook, input));
    return { webhookId, ...r };
  }

  /** Delivers to every webhook registered for `action` (during a rotation overlap, both fire). */
  async deliverAction(
    action: string,
    input: { organizationId: string; payload: unknown; additionalData?: Record<string, unknown> },
  ): Promise<DeliveryResult[]> {
    const targets = [...this.world.webhooks.values()].filter((w) => w.action === action);
    return Promise.all(targets.map((w) => this.deliver(w.id, input)));
  }

  /** Posts an app lifecycle webhook (userinfo in `url` is sent as Basic auth, as with LiveChat's configured URL). */
  async sendLifecycle(
    url: string,
    input: { event: LifecycleEvent; clientId: string; licenseId?: number; organizationId?: string },
  ): Promise<{ status: number; body: string }> {
    const account = this.world.options.account;
    return postJson(
      url,
      lifecycleBody({
        event: input.event,
        clientId: input.clientId,
        licenseId: input.licenseId ?? account.licenseId,
        organizationId: input.organizationId ?? account.organizationId,
      }),
    );
  }

  async close(): Promise<void> {
    const server = this.server;
    if (server === undefined) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

export async function startFakeLiveChat(options: FakeLiveChatOptions): Promise<FakeLiveChat> {
  return new FakeLiveChat(options).start();
}
