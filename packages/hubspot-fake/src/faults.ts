/** Which calls a fault applies to: every call, or the calls of one endpoint family. */
export type FaultTarget =
  'any' | 'contacts' | 'notes-create' | 'notes-update' | 'notes-delete' | 'notes-read';

/** A fault the fake plays instead of (or around) a normal answer. */
export type Fault =
  /** Answer with this status before doing anything (HubSpot's bodies: 5xx internal error, 423 locked). */
  | { readonly kind: 'status'; readonly status: 500 | 502 | 503 | 504 | 423 }
  /** A 429 of this policy before doing anything (without Retry-After unless given). */
  | {
      readonly kind: 'rate-limit';
      readonly policy: 'TEN_SECONDLY_ROLLING' | 'DAILY' | 'SECONDLY';
      readonly retryAfterSeconds?: number;
    }
  /** Wait this long, then do the work and answer normally (a slow HubSpot). */
  | { readonly kind: 'slow'; readonly ms: number }
  /**
   * Do the work at once, then hold the answer this long (a client with a shorter timeout gives up although the
   * write succeeded: the ambiguous case).
   */
  | {
      readonly kind: 'answer-late';
      readonly ms: number;
      /**
       * The write lands this long after the request arrived (HubSpot still working on it while the client has
       * given up, and past its first look-up); the answer then comes `ms` later. Default: at once.
       */
      readonly writeAfterMs?: number;
    }
  /** Do the work, then drop the connection without an answer. */
  | { readonly kind: 'drop-after-write' }
  /**
   * A batch upsert racing another writer of the same e-mail: the contacts are written (by "the other writer"),
   * the answer is 409 OBJECT_ALREADY_EXISTS naming the existing id, as HubSpot answers concurrent creates.
   */
  | { readonly kind: 'conflict' };

export interface QueuedFault {
  readonly fault: Fault;
  readonly target: FaultTarget;
}

/** Decides the fault of the n-th call (1-based) of a target; undefined = no fault. */
export type FaultPlan = (call: { readonly n: number; readonly target: FaultTarget }) => Fault | undefined;

/** Faults: a queue consumed one per matching call first, then an optional plan for any call. */
export class FaultInjector {
  private readonly queue: QueuedFault[] = [];
  private plan: FaultPlan | undefined;
  private n = 0;

  enqueue(target: FaultTarget, ...faults: Fault[]): void {
    for (const fault of faults) this.queue.push({ fault, target });
  }

  setPlan(plan: FaultPlan | undefined): void {
    this.plan = plan;
  }

  clear(): void {
    this.queue.length = 0;
    this.plan = undefined;
  }

  pending(): number {
    return this.queue.length;
  }

  next(target: FaultTarget): Fault | undefined {
    this.n += 1;
    const index = this.queue.findIndex((q) => q.target === 'any' || q.target === target);
    if (index >= 0) return this.queue.splice(index, 1)[0]!.fault;
    return this.plan?.({ n: this.n, target });
  }
}

/**
 * A plan from plain data (what the HTTP control API accepts): every call of `target` fails with `fault` with
 * probability `rate`, drawn from a seeded generator so a run can be repeated.
 */
export interface RandomFaultSpec {
  readonly target: FaultTarget;
  readonly rate: number;
  readonly fault: Fault;
}

export function randomFaultPlan(specs: readonly RandomFaultSpec[], seed = 1): FaultPlan {
  let state = seed >>> 0 || 1;
  const random = () => {
    // xorshift32: deterministic, good enough to pick faults
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 0x1_0000_0000;
  };
  return ({ target }) => {
    for (const spec of specs) {
      if (spec.target !== 'any' && spec.target !== target) continue;
      if (random() < spec.rate) return spec.fault;
    }
    return undefined;
  };
}
