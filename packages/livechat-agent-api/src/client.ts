import { AgentApiError, codeForType } from './errors.js';
import type { AgentApiErrorCode } from './errors.js';

/** What the client tells its owner, for metrics and logs (the library itself does not log). */
export type AgentApiEvent =
  | {
      readonly kind: 'retry';
      readonly method: string;
      /** LiveChat's error type, or `timeout` / `network` / `http_<status>`. */
      readonly reason: string;
      readonly attempt: number;
      readonly delayMs: number;
    }
  | {
      readonly kind: 'error';
      readonly method: string;
      readonly code: AgentApiErrorCode;
      readonly type?: string;
    }
  | {
      readonly kind: 'response';
      readonly method: string;
      readonly status: number;
      readonly durationMs: number;
    };

export interface AgentChatClientOptions {
  /** e.g. https://api.livechatinc.com/v3.6 */
  readonly apiUrl: string;
  /** The Authorization header: `Bearer <token>` (OAuth) or `Basic base64(account_id:PAT)`. */
  readonly authorization: () => Promise<string>;
  /** Called once after an `authentication` error (refresh the token); the call is then tried once more. */
  readonly onUnauthorized?: () => Promise<void>;
  /** Calls in flight at once through this client (one client per tenant); default 2. */
  readonly concurrency?: number;
  /** Per attempt; default 15 s (LiveChat's own request_timeout threshold). */
  readonly timeoutMs?: number;
  /** Attempts for 5xx, timeouts and network errors; default 6. */
  readonly maxAttempts?: number;
  /** Attempts while LiveChat says too_many_requests; default 12 (it documents no numbers and no Retry-After). */
  readonly rateLimitedAttempts?: number;
  /** Full jitter: each delay is random() × min(maxMs, baseMs × 2^attempt). Defaults 250 ms / 30 s. */
  readonly backoff?: { readonly baseMs: number; readonly maxMs: number };
  readonly random?: () => number;
  readonly onEvent?: (event: AgentApiEvent) => void;
}

class Semaphore {
  private active = 0;
  private readonly waiting: (() => void)[] = [];
  constructor(private readonly size: number) {}

  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.active >= this.size) await new Promise<void>((resolve) => this.waiting.push(resolve));
    this.active += 1;
    try {
      return await fn();
    } finally {
      this.active -= 1;
      this.waiting.shift()?.();
    }
  }
}

function abortable(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted === true) return reject(signal.reason as Error);
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason as Error);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

type Outcome =
  | { readonly ok: true; readonly body: Record<string, unknown> }
  | {
      readonly ok: false;
      readonly reason: string;
      readonly type?: string;
      readonly status?: number;
      readonly message: string;
      readonly region?: string;
    };

/**
 * A client of the Agent Chat Web API (`POST <apiUrl>/agent/action/<method>`). Each of LiveChat's error types is
 * handled its own way: `too_many_requests` backs off with full jitter (no Retry-After exists), 5xx / timeouts /
 * network errors are retried with the same backoff, `authentication` refreshes the token once, `misdirected_request`
 * retries once with the region LiveChat names, and everything else (`validation`, `authorization`, `not_found`, …)
 * fails at once with its own code. A failure is thrown, never swallowed: callers decide to retry the page later.
 */
export class AgentChatClient {
  private readonly gate: Semaphore;
  private region: string | undefined;

  constructor(private readonly options: AgentChatClientOptions) {
    this.gate = new Semaphore(options.concurrency ?? 2);
  }

  call(
    method: string,
    body: Readonly<Record<string, unknown>>,
    signal?: AbortSignal,
  ): Promise<Record<string, unknown>> {
    return this.gate.run(() => this.withRetries(method, body, signal));
  }

  private delay(attempt: number): number {
    const { baseMs, maxMs } = this.options.backoff ?? { baseMs: 250, maxMs: 30_000 };
    return Math.floor((this.options.random ?? Math.random)() * Math.min(maxMs, baseMs * 2 ** attempt));
  }

  private async withRetries(
    method: string,
    body: Readonly<Record<string, unknown>>,
    signal: AbortSignal | undefined,
  ): Promise<Record<string, unknown>> {
    const maxAttempts = this.options.maxAttempts ?? 6;
    const rateLimitedAttempts = this.options.rateLimitedAttempts ?? 12;
    let refreshed = false;
    let redirected = false;
    let transient = 0;
    let limited = 0;
    for (let attempt = 1; ; attempt++) {
      if (signal?.aborted === true)
        throw new AgentApiError('AGENT_API_ABORTED', `${method} aborted`, { method, attempts: attempt - 1 });
      const outcome = await this.once(method, body, signal);
      if (outcome.ok) return outcome.body;
      const code = outcome.type === undefined ? 'AGENT_API_UNAVAILABLE' : codeForType(outcome.type);
      const fail = (c: AgentApiErrorCode = code) => {
        this.options.onEvent?.({
          kind: 'error',
          method,
          code: c,
          ...(outcome.type === undefined ? {} : { type: outcome.type }),
        });
        return new AgentApiError(c, `${method}: ${outcome.message}`, {
          method,
          ...(outcome.type === undefined ? {} : { type: outcome.type }),
          ...(outcome.status === undefined ? {} : { status: outcome.status }),
          attempts: attempt,
        });
      };
      if (outcome.reason === 'aborted') throw fail('AGENT_API_ABORTED');
      let retry = false;
      if (outcome.type === 'authentication' && !refreshed && this.options.onUnauthorized !== undefined) {
        refreshed = true;
        try {
          await this.options.onUnauthorized();
        } catch (err) {
          // The token cannot be refreshed (revoked, tenant gone): not something a retry mends.
          throw new AgentApiError(
            'AGENT_API_AUTHENTICATION',
            `${method}: the access token was refused and could not be refreshed`,
            { method, type: 'authentication', attempts: attempt },
            { cause: err },
          );
        }
        retry = true;
      } else if (outcome.type === 'misdirected_request' && !redirected && outcome.region !== undefined) {
        redirected = true;
        this.region = outcome.region;
        retry = true;
      } else if (code === 'AGENT_API_RATE_LIMITED') {
        limited += 1;
        if (limited >= rateLimitedAttempts) throw fail();
        await this.wait(method, outcome.reason, attempt, this.delay(limited), signal);
        continue;
      } else if (code === 'AGENT_API_UNAVAILABLE' || code === 'AGENT_API_RESPONSE_INVALID') {
        transient += 1;
        if (transient >= maxAttempts) throw fail();
        await this.wait(method, outcome.reason, attempt, this.delay(transient), signal);
        continue;
      }
      if (!retry) throw fail();
      this.options.onEvent?.({ kind: 'retry', method, reason: outcome.reason, attempt, delayMs: 0 });
    }
  }

  private async wait(
    method: string,
    reason: string,
    attempt: number,
    delayMs: number,
    signal: AbortSignal | undefined,
  ): Promise<void> {
    this.options.onEvent?.({ kind: 'retry', method, reason, attempt, delayMs });
    try {
      await abortable(delayMs, signal);
    } catch (err) {
      throw new AgentApiError(
        'AGENT_API_ABORTED',
        `${method} aborted while backing off`,
        { method, attempts: attempt },
        { cause: err },
      );
    }
  }

  private async once(
    method: string,
    body: Readonly<Record<string, unknown>>,
    signal: AbortSignal | undefined,
  ): Promise<Outcome> {
    const started = Date.now();
    let authorization: string;
    try {
      authorization = await this.options.authorization();
    } catch (err) {
      // Credentials that cannot be opened or refreshed are an authentication failure, not a network one.
      return {
        ok: false,
        reason: 'credentials',
        type: 'authentication',
        message: `no usable credentials: ${err instanceof Error ? err.message.slice(0, 200) : 'unknown error'}`,
      };
    }
    const timeout = AbortSignal.timeout(this.options.timeoutMs ?? 15_000);
    const combined = signal === undefined ? timeout : AbortSignal.any([signal, timeout]);
    let res: Response;
    try {
      res = await fetch(`${this.options.apiUrl}/agent/action/${method}`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          authorization,
          ...(this.region === undefined ? {} : { 'x-region': this.region }),
        },
        body: JSON.stringify(body),
        signal: combined,
      });
    } catch (err) {
      if (signal?.aborted === true) return { ok: false, reason: 'aborted', message: 'aborted' };
      const timedOut = timeout.aborted;
      return {
        ok: false,
        reason: timedOut ? 'timeout' : 'network',
        message: timedOut
          ? 'timed out'
          : `request failed: ${err instanceof Error ? err.message : String(err)}`,
      };
    }
    let text: string;
    try {
      text = await res.text();
    } catch {
      return { ok: false, reason: 'network', status: res.status, message: 'the body could not be read' };
    }
    this.options.onEvent?.({
      kind: 'response',
      method,
      status: res.status,
      durationMs: Date.now() - started,
    });
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    const obj =
      typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)
        ? (parsed as Record<string, unknown>)
        : null;
    const error = obj?.['error'];
    if (typeof error === 'object' && error !== null) {
      const e = error as Record<string, unknown>;
      const type = typeof e['type'] === 'string' ? e['type'] : 'internal';
      const data = e['data'];
      const region =
        typeof data === 'object' &&
        data !== null &&
        typeof (data as Record<string, unknown>)['region'] === 'string'
          ? ((data as Record<string, unknown>)['region'] as string)
          : undefined;
      return {
        ok: false,
        reason: type,
        type,
        status: res.status,
        // LiveChat's message names the problem (never a secret); capped so that a hostile body stays small.
        message: (typeof e['message'] === 'string' ? e['message'] : type).slice(0, 300),
        ...(region === undefined ? {} : { region }),
      };
    }
    if (res.status >= 500 || res.status === 429)
      return {
        ok: false,
        reason: `http_${res.status}`,
        ...(res.status === 429 ? { type: 'too_many_requests' } : {}),
        status: res.status,
        message: `HTTP ${res.status}`,
      };
    if (res.status !== 200)
      return {
        ok: false,
        reason: `http_${res.status}`,
        type: 'http',
        status: res.status,
        message: `HTTP ${res.status}`,
      };
    if (obj === null)
      return {
        ok: false,
        reason: 'response_invalid',
        type: 'response_invalid',
        status: 200,
        message: 'the response is not a JSON object',
      };
    return { ok: true, body: obj };
  }
}
