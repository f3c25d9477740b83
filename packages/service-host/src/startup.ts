import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';

/**
 * Start-up steps (topics, schema registration, Postgres, migrations) retried with exponential backoff until
 * one deadline for the whole start: on a fresh stack the services start together, and Kafka answers
 * "This server does not host this topic-partition" while a new topic's metadata spreads, the registry or
 * Postgres may still be starting, two services may create the same topic at the same moment. Only an error
 * known to be permanent (a typed error marked `retryable: false` that no connection fault caused, or one the
 * caller names) ends the start before the deadline.
 */
export interface StartupOptions {
  /** The whole start-up may take this long (ms) from `new Startup()`; each step gets what is left. */
  readonly timeoutMs: number;
  readonly logger: Logger;
  /** First retry delay; doubles per attempt up to `maxDelayMs`. */
  readonly initialDelayMs?: number;
  readonly maxDelayMs?: number;
  /** For tests. */
  readonly now?: () => number;
  readonly sleep?: (ms: number) => Promise<void>;
}

export interface StepOptions {
  /** Overrides the default classification (see `isPermanentStartupError`). */
  readonly isPermanent?: (error: unknown) => boolean;
}

export const STARTUP_ERROR_CODES = {
  /** The step kept failing with transient errors until the start-up deadline. */
  SERVICE_STARTUP_TIMEOUT: {
    retryable: false,
    description: 'A start-up step did not succeed before the start-up deadline',
  },
  /** The step failed with an error that waiting cannot fix (bad settings, an incompatible schema, a broken migration). */
  SERVICE_STARTUP_FAILED: { retryable: false, description: 'A start-up step failed with a permanent error' },
} as const;

export type StartupErrorCode = keyof typeof STARTUP_ERROR_CODES;

/** A start-up step that failed for good; the message names the step and says why (no secrets). */
export class StartupError extends Error {
  override readonly name = 'StartupError';
  readonly retryable = false;

  constructor(
    readonly code: StartupErrorCode,
    readonly step: string,
    readonly attempts: number,
    message: string,
    cause: unknown,
  ) {
    super(message, { cause });
  }
}

export function isStartupError(error: unknown): error is StartupError {
  return error instanceof StartupError;
}

/** One deadline for all start-up steps of a service. */
export class Startup {
  private readonly deadline: number;
  private readonly now: () => number;
  private readonly sleep: (ms: number) => Promise<void>;

  constructor(private readonly options: StartupOptions) {
    this.now = options.now ?? Date.now;
    this.sleep = options.sleep ?? ((ms) => sleep(ms));
    this.deadline = this.now() + options.timeoutMs;
  }

  /** Milliseconds left until the start-up deadline (never negative). */
  get remainingMs(): number {
    return Math.max(0, this.deadline - this.now());
  }

  /**
   * Runs `fn` until it succeeds; a transient failure is logged (warn, the error's message and code only) and
   * retried after 250 ms, 500 ms, … up to 5 s. Throws StartupError naming the step when the error is permanent
   * or the next attempt would start after the deadline.
   */
  async step<T>(name: string, fn: () => Promise<T>, stepOptions: StepOptions = {}): Promise<T> {
    const { logger } = this.options;
    const isPermanent = stepOptions.isPermanent ?? isPermanentStartupError;
    let delay = this.options.initialDelayMs ?? 250;
    const maxDelay = this.options.maxDelayMs ?? 5_000;
    for (let attempt = 1; ; attempt++) {
      try {
        const result = await fn();
        if (attempt > 1)
          logger.info(
            { step: name, attempts: attempt },
            `start-up step "${name}" succeeded after ${attempt} attempts`,
          );
        return result;
      } catch (error) {
        const reason = describe(error);
        if (isPermanent(error)) {
          throw new StartupError(
            'SERVICE_STARTUP_FAILED',
            name,
            attempt,
            `start-up step "${name}" failed: ${reason}`,
            error,
          );
        }
        const left = this.deadline - this.now();
        if (left <= delay) {
          throw new StartupError(
            'SERVICE_STARTUP_TIMEOUT',
            name,
            attempt,
            `start-up step "${name}" still failing after ${attempt} attempts when the start-up deadline (${this.options.timeoutMs} ms) passed: ${reason}`,
            error,
          );
        }
        logger.warn(
          { step: name, attempt, retryInMs: delay, err: errorForLog(error) },
          `start-up step "${name}" failed; retrying`,
        );
        await this.sleep(delay);
        delay = Math.min(delay * 2, maxDelay);
      }
    }
  }
}

/** Shorthand for a single step with its own deadline. */
export function startupStep<T>(
  name: string,
  fn: () => Promise<T>,
  options: StartupOptions & StepOptions,
): Promise<T> {
  return new Startup(options).step(name, fn, options);
}

/** Socket errnos and SQLSTATE classes that say "not reachable yet", whatever wraps them. */
const CONNECTION_ERRNOS = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
]);
const TRANSIENT_SQLSTATE_PREFIXES = ['08', '53', '57P'];

/**
 * Permanent = some error in the cause chain is marked `retryable: false` (the typed errors of this repo) and none
 * in the chain is a connection fault. So a migration wrapped as "not retryable" because Postgres refused the
 * connection is still retried; an incompatible schema or a topic with wrong settings is not. Untyped errors
 * (kafkajs, pg, fetch) are transient: the deadline bounds them.
 */
export function isPermanentStartupError(error: unknown): boolean {
  let markedPermanent = false;
  for (const e of causeChain(error)) {
    if (isConnectionFault(e)) return false;
    if (typeof e === 'object' && e !== null && (e as { retryable?: unknown }).retryable === false)
      markedPermanent = true;
  }
  return markedPermanent;
}

function isConnectionFault(e: unknown): boolean {
  if (typeof e !== 'object' || e === null) return false;
  const code = (e as { code?: unknown }).code;
  if (typeof code !== 'string') return false;
  return (
    CONNECTION_ERRNOS.has(code) ||
    (/^[0-9A-Z]{5}$/.test(code) && TRANSIENT_SQLSTATE_PREFIXES.some((p) => code.startsWith(p)))
  );
}

function* causeChain(error: unknown): Generator<unknown> {
  const seen = new Set<unknown>();
  let current: unknown = error;
  while (current !== undefined && current !== null && !seen.has(current)) {
    seen.add(current);
    yield current;
    if (current instanceof AggregateError) for (const inner of current.errors) yield* causeChain(inner);
    current = typeof current === 'object' ? (current as { cause?: unknown }).cause : undefined;
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** The message and code only: an error's other fields may carry connection strings or request bodies. */
function errorForLog(error: unknown): { message: string; code?: string } {
  const code = typeof error === 'object' && error !== null ? (error as { code?: unknown }).code : undefined;
  return typeof code === 'string' ? { message: describe(error), code } : { message: describe(error) };
}

/** Default of `<SERVICE>_STARTUP_TIMEOUT_MS`. */
export const DEFAULT_STARTUP_TIMEOUT_MS = 60_000;
