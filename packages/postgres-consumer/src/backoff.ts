export interface BackoffPolicy {
  readonly initialMs: number;
  readonly maxMs: number;
  readonly multiplier: number;
  /** Fraction of the delay randomised (0..1), so members retrying together spread out. */
  readonly jitter: number;
}

export const DEFAULT_BACKOFF: BackoffPolicy = Object.freeze({
  initialMs: 200,
  maxMs: 30_000,
  multiplier: 2,
  jitter: 0.2,
});

/**
 * Delay before retry number `attempt` (1-based): initial * multiplier^(attempt-1), capped at max,
 * then jittered downwards only, so the cap stays a cap.
 */
export function backoffDelay(
  policy: BackoffPolicy,
  attempt: number,
  random: () => number = Math.random,
): number {
  const exponent = Math.max(0, attempt - 1);
  const raw = Math.min(policy.maxMs, policy.initialMs * policy.multiplier ** exponent);
  const jittered = raw * (1 - policy.jitter * random());
  return Math.max(0, Math.round(jittered));
}
