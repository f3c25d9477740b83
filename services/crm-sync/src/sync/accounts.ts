import { setTimeout as sleep } from 'node:timers/promises';

/**
 * A token bucket: `capacity` calls at once, refilled at `capacity / windowMs`. The default (see config) stays
 * below HubSpot's ten-second burst limit, so a healthy run meets no 429 at all.
 */
export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(
    private readonly capacity: number,
    private readonly windowMs: number,
    private readonly now: () => number = Date.now,
  ) {
    this.tokens = capacity;
    this.last = now();
  }

  /** Takes a token if there is one; else how long until there is (ms). */
  tryTake(): number {
    const t = this.now();
    this.tokens = Math.min(this.capacity, this.tokens + ((t - this.last) * this.capacity) / this.windowMs);
    this.last = t;
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return 0;
    }
    return Math.ceil(((1 - this.tokens) * this.windowMs) / this.capacity);
  }

  /** Empties the bucket (after a 429: HubSpot's count is ahead of ours). */
  drain(): void {
    this.tokens = 0;
    this.last = this.now();
  }
}

/** The account cannot take a call within the caller's wait bound; `until` is when it can (epoch ms). */
export class AccountBusy extends Error {
  override readonly name = 'AccountBusy';
  constructor(readonly until: number) {
    super('the HubSpot account is busy (rate limit or bucket) beyond the wait bound');
  }
}

export type AccountState =
  | { readonly kind: 'ok' }
  /** A 429 TEN_SECONDLY_ROLLING (or secondly): every call waits until `until`. */
  | { readonly kind: 'blocked'; readonly until: number }
  /** A 429 DAILY: the account's work pauses until `until` (the daily reset), probing every `probeMs`. */
  | { readonly kind: 'paused'; readonly until: number; nextProbe: number }
  /** A 401/403: work waits; one probe call every `probeMs` tells when the token works again. */
  | { readonly kind: 'broken'; nextProbe: number; readonly code: string };

/** Why an account cannot take a call now, and until when. */
export interface Unavailable {
  readonly kind: 'paused' | 'broken';
  readonly until: number;
}

export interface AccountLimitsOptions {
  readonly burst: number;
  readonly windowMs: number;
  /** While paused (daily) or broken (401), one call is let through this often to see whether it is over. */
  readonly probeMs: number;
  /** The next daily reset after a time (midnight in the account's time zone; UTC by default). */
  readonly nextDailyReset: (now: number) => number;
  readonly now?: () => number;
}

/**
 * Per HubSpot account (a hash of its token): the token bucket and what HubSpot last said about the account. All
 * in memory of one worker process; each process keeps its own (the README says how to split the burst).
 */
export class AccountLimits {
  private readonly buckets = new Map<string, TokenBucket>();
  private readonly states = new Map<string, AccountState>();
  private readonly now: () => number;

  constructor(private readonly options: AccountLimitsOptions) {
    this.now = options.now ?? Date.now;
  }

  state(account: string): AccountState {
    return this.states.get(account) ?? { kind: 'ok' };
  }

  /**
   * Undefined when a call may be tried (a probe included); else why not and until when. A probe is granted to
   * one caller per probe interval.
   */
  unavailable(account: string): Unavailable | undefined {
    const s = this.state(account);
    const t = this.now();
    if (s.kind === 'paused') {
      if (t >= s.until) {
        this.states.set(account, { kind: 'ok' });
        return undefined;
      }
      if (t >= s.nextProbe) {
        s.nextProbe = t + this.options.probeMs;
        return undefined;
      }
      return { kind: 'paused', until: Math.min(s.until, s.nextProbe) };
    }
    if (s.kind === 'broken') {
      if (t >= s.nextProbe) {
        s.nextProbe = t + this.options.probeMs;
        return undefined;
      }
      return { kind: 'broken', until: s.nextProbe };
    }
    return undefined;
  }

  /** The end of the account's ten-second block (a 429), if it is blocked now. */
  blockedUntil(account: string): number | undefined {
    const s = this.state(account);
    return s.kind === 'blocked' && this.now() < s.until ? s.until : undefined;
  }

  /**
   * Waits for a token of the account's bucket and for any ten-second block to end, but never longer than
   * `maxWaitMs` in all: a longer wait throws {@link AccountBusy} (the caller gives the work back to the queue
   * instead of holding its pass, and other accounts' work, behind one account).
   */
  async acquire(account: string, signal?: AbortSignal, maxWaitMs = Number.POSITIVE_INFINITY): Promise<void> {
    const deadline = this.now() + maxWaitMs;
    for (;;) {
      signal?.throwIfAborted();
      const s = this.state(account);
      const t = this.now();
      let wait: number;
      if (s.kind === 'blocked' && t < s.until) wait = s.until - t;
      else {
        if (s.kind === 'blocked') this.states.set(account, { kind: 'ok' });
        wait = this.bucket(account).tryTake();
        if (wait === 0) return;
      }
      if (t + wait > deadline) throw new AccountBusy(t + wait);
      await sleep(wait, undefined, signal === undefined ? {} : { signal });
    }
  }

  /** A 429 TEN_SECONDLY_ROLLING / secondly: nobody calls for `ms`. */
  block(account: string, ms: number): void {
    const s = this.state(account);
    if (s.kind === 'paused' || s.kind === 'broken') return;
    const until = this.now() + ms;
    if (s.kind === 'blocked' && s.until >= until) return;
    this.bucket(account).drain();
    this.states.set(account, { kind: 'blocked', until });
  }

  /** A 429 DAILY. Returns the pause's end. */
  pause(account: string): number {
    const t = this.now();
    const until = this.options.nextDailyReset(t);
    this.states.set(account, { kind: 'paused', until, nextProbe: t + this.options.probeMs });
    return until;
  }

  /** A 401/403. */
  breakConnection(account: string, code: string): void {
    this.states.set(account, { kind: 'broken', nextProbe: this.now() + this.options.probeMs, code });
  }

  /** A call of the account succeeded: any pause or broken state is over. Returns what it was. */
  succeeded(account: string): AccountState['kind'] {
    const previous = this.state(account).kind;
    if (previous === 'paused' || previous === 'broken') this.states.set(account, { kind: 'ok' });
    return previous;
  }

  private bucket(account: string): TokenBucket {
    let b = this.buckets.get(account);
    if (b === undefined) {
      b = new TokenBucket(this.options.burst, this.options.windowMs, this.now);
      this.buckets.set(account, b);
    }
    return b;
  }
}

/** The next midnight after `now` in a zone `offsetMinutes` east of UTC. */
export function nextMidnight(now: number, offsetMinutes = 0): number {
  const day = 24 * 60 * 60 * 1000;
  const local = now + offsetMinutes * 60_000;
  return Math.floor(local / day) * day + day - offsetMinutes * 60_000;
}
