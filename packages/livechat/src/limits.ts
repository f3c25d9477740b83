import { LiveChatParseError } from './errors.js';
import type { LiveChatParseErrorCode } from './errors.js';

/**
 * Bounds on what one webhook may make the parser do. A body over a bound is refused with a `LiveChatParseError`
 * (`LIVECHAT_TOO_*`, not retryable) before the expensive work, so a hostile body costs time and memory linear in
 * its size, never more.
 */
export interface ParseLimits {
  /** Domain events one webhook may yield. */
  readonly maxEvents: number;
  /** Threads in one v3 `incoming_chat` (`chat.threads[]`). */
  readonly maxThreads: number;
  /** Users listed by one webhook (v3 `chat.users`, v2 `chat.agents`). */
  readonly maxUsers: number;
  /** Nesting of objects and arrays in the body (the body itself is depth 1). */
  readonly maxDepth: number;
}

export const DEFAULT_PARSE_LIMITS: Readonly<ParseLimits> = Object.freeze({
  maxEvents: 10_000,
  maxThreads: 1_000,
  maxUsers: 1_000,
  maxDepth: 100,
});

const LIMIT_CODES: Readonly<Record<keyof ParseLimits, LiveChatParseErrorCode>> = {
  maxEvents: 'LIVECHAT_TOO_MANY_EVENTS',
  maxThreads: 'LIVECHAT_TOO_MANY_THREADS',
  maxUsers: 'LIVECHAT_TOO_MANY_USERS',
  maxDepth: 'LIVECHAT_TOO_DEEP',
};

/** The given limits over the defaults; a value that is not a non-negative safe integer keeps the default. */
export function resolveParseLimits(limits: Partial<ParseLimits> | undefined): ParseLimits {
  const resolved = { ...DEFAULT_PARSE_LIMITS };
  for (const key of Object.keys(LIMIT_CODES) as (keyof ParseLimits)[]) {
    const value = limits?.[key];
    if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) resolved[key] = value;
  }
  return resolved;
}

/** Throws the limit's error when `count` is over it. */
export function checkLimit(limits: ParseLimits, limit: keyof ParseLimits, count: number, what: string): void {
  if (count <= limits[limit]) return;
  throw new LiveChatParseError(
    LIMIT_CODES[limit],
    `the webhook has ${what}: ${count}, over the limit of ${limits[limit]}`,
    {
      details: { limit, max: limits[limit], count },
    },
  );
}

/** Counts the events of one webhook as they are built; throws once there are more than `maxEvents`. */
export class EventBudget {
  private count = 0;
  constructor(private readonly limits: ParseLimits) {}

  /** Reserves `n` more events (called before building them where the count is known, else per event). */
  take(n = 1): void {
    this.count += n;
    checkLimit(this.limits, 'maxEvents', this.count, 'more events than allowed');
  }
}

/**
 * Refuses a body nested deeper than `maxDepth`, walking it once without recursion (the walks that follow,
 * `JSON.stringify` and the canonical JSON of ids, recurse and would overflow the stack on a hostile body).
 */
export function checkDepth(body: unknown, limits: ParseLimits): void {
  const stack: { value: unknown; depth: number }[] = [{ value: body, depth: 1 }];
  while (stack.length > 0) {
    const { value, depth } = stack.pop()!;
    if (typeof value !== 'object' || value === null) continue;
    checkLimit(limits, 'maxDepth', depth, 'objects or arrays nested too deep');
    const children: readonly unknown[] = Array.isArray(value) ? value : Object.values(value);
    for (const child of children) {
      if (typeof child === 'object' && child !== null) stack.push({ value: child, depth: depth + 1 });
    }
  }
}
