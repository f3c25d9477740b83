import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import { AppError } from '../errors.js';

export interface RetryPolicy {
  /** Retries after the first attempt. */
  readonly maxRetries: number;
  readonly timeoutMs: number;
  readonly baseDelayMs?: number;
  readonly maxDelayMs?: number;
  /** Longest Retry-After honoured; longer ones fail the call instead of stalling it. */
  readonly maxRetryAfterMs?: number;
  /** Told each attempt's outcome (the HTTP status, `timeout` or `network`), for the metrics. */
  readonly onAttempt?: (call: string, outcome: string) => void;
}

export interface CallResult {
  readonly status: number;
  readonly headers: Headers;
  readonly text: string;
}

/** Seconds or an HTTP date -> milliseconds from now, or undefined. */
export function retryAfterMs(value: string | null, now = Date.now()): number | undefined {
  if (value === null || value.trim() === '') return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/**
 * One logical HTTP call with retries on 429 (honouring Retry-After), 5xx, network errors and timeouts, using
 * exponential backoff with jitter. Logs one line per attempt with `what` (a method name), status and
 * duration: never the URL's query, headers or bodies, which may carry tokens or secrets.
 */
export async function callWithRetries(
  what: string,
  makeRequest: () => Promise<{ url: string; init: RequestInit }>,
  policy: RetryPolicy,
  logger: Logger,
): Promise<CallResult> {
  const base = policy.baseDelayMs ?? 200;
  const cap = policy.maxDelayMs ?? 10_000;
  const maxRetryAfter = policy.maxRetryAfterMs ?? 60_000;
  let lastProblem = '';
  for (let attempt = 1; attempt <= policy.maxRetries + 1; attempt += 1) {
    const started = Date.now();
    let delay = Math.min(cap, base * 2 ** (attempt - 1)) * (0.5 + Math.random() / 2);
    try {
      const { url, init } = await makeRequest();
      const res = await fetch(url, { ...init, signal: AbortSignal.timeout(policy.timeoutMs) });
      const text = await res.text();
      const durationMs = Date.now() - started;
      policy.onAttempt?.(what, String(res.status));
      const retryable = res.status === 429 || res.status >= 500;
      logger.info(
        { livechat_call: what, attempt, status: res.status, durationMs },
        retryable ? 'livechat call failed; may retry' : 'livechat call',
      );
      if (!retryable) return { status: res.status, headers: res.headers, text };
      lastProblem = `HTTP ${res.status}`;
      const after = retryAfterMs(res.headers.get('retry-after'));
      if (after !== undefined) {
        if (after > maxRetryAfter)
          throw new AppError(
            'APP_LIVECHAT_UNAVAILABLE',
            `${what}: LiveChat asked to retry after ${Math.round(after / 1000)} s`,
          );
        delay = Math.max(delay, after);
      }
    } catch (err) {
      if (err instanceof AppError) throw err;
      const durationMs = Date.now() - started;
      const kind =
        err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError')
          ? 'timeout'
          : 'network error';
      lastProblem = kind;
      policy.onAttempt?.(what, kind === 'timeout' ? 'timeout' : 'network');
      logger.warn(
        { livechat_call: what, attempt, error: kind, durationMs },
        'livechat call failed; may retry',
      );
    }
    if (attempt <= policy.maxRetries) await sleep(delay);
  }
  throw new AppError(
    'APP_LIVECHAT_UNAVAILABLE',
    `${what}: LiveChat still failing after ${policy.maxRetries + 1} attempts (last: ${lastProblem})`,
    {
      details: { call: what },
    },
  );
}
