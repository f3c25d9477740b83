import { AgentChatState } from './agent-chat-api.js';
import type { AgentChatOptions } from './agent-chat-api.js';
import { FaultInjector } from './faults.js';
import type {
  AccessToken,
  CodeGrant,
  FakeAccount,
  FakeClient,
  FakePat,
  RecordedCall,
  RefreshToken,
  RegisteredWebhook,
} from './state.js';

export interface FakeLiveChatOptions {
  readonly clients: readonly FakeClient[];
  /** The account that "signs in" on the authorize page. */
  readonly account: FakeAccount;
  readonly pats?: readonly FakePat[];
  /** Scopes granted to tokens from the authorize flow; default webhooks.configuration:rw, webhooks.state:rw. */
  readonly grantedScopes?: readonly string[];
  /** Authorization code lifetime; default 120 s ("a few minutes"). */
  readonly codeTtlMs?: number;
  /** Access token lifetime in seconds; default 28800. */
  readonly accessTokenTtlSeconds?: number;
  /** Refresh tokens rotate on use (web apps) or not (server-side apps with PKCE, the default). */
  readonly rotateRefreshTokens?: boolean;
  /** The API version segment served; default v3.6. */
  readonly apiVersion?: string;
  /** The Agent Chat API: history limit, rate limit, page_id lifetime. */
  readonly agentChat?: AgentChatOptions;
  readonly host?: string;
  readonly port?: number;
  readonly now?: () => number;
}

/** Mutable state shared by the fake's handlers. */
export class FakeWorld {
  readonly codes = new Map<string, CodeGrant>();
  readonly accessTokens = new Map<string, AccessToken>();
  readonly refreshTokens = new Map<string, RefreshToken>();
  readonly webhooks = new Map<string, RegisteredWebhook>();
  /** `${clientId}/${organizationId}` -> license webhooks enabled. */
  readonly licenseWebhooksState = new Map<string, boolean>();
  /** Pending authorize requests, by transaction id. */
  readonly pendingAuthorizations = new Map<
    string,
    Omit<CodeGrant, 'used' | 'expiresAt'> & { readonly state: string | null }
  >();
  readonly calls: RecordedCall[] = [];
  readonly faults = new FaultInjector();
  /** Faults of the Agent Chat API (a 429 here is too_many_requests, without Retry-After). */
  readonly agentFaults = new FaultInjector();
  readonly agentChat: AgentChatState;

  constructor(readonly options: FakeLiveChatOptions) {
    this.agentChat = new AgentChatState(options.agentChat ?? {});
  }

  now(): number {
    return this.options.now?.() ?? Date.now();
  }

  client(clientId: string): FakeClient | undefined {
    return this.options.clients.find((c) => c.clientId === clientId);
  }

  get grantedScopes(): readonly string[] {
    return this.options.grantedScopes ?? ['webhooks.configuration:rw', 'webhooks.state:rw'];
  }
}
