/** A fault the fake plays instead of (or around) a normal answer. */
export type Fault =
  /** Answer with this status before doing anything (429 carries Retry-After). */
  | {
      readonly kind: 'status';
      readonly status: 429 | 500 | 502 | 503;
      readonly retryAfterSeconds?: number;
      readonly afterEffect?: false;
    }
  /** Do the work, then answer with this status anyway (the client cannot know it happened). */
  | { readonly kind: 'status'; readonly status: 500 | 502 | 503; readonly afterEffect: true }
  /** Wait this long, then answer normally (a client with a shorter timeout gives up; the work is done). */
  | { readonly kind: 'delay'; readonly ms: number };

export type FaultPlan = (call: { readonly n: number; readonly method: string }) => Fault | undefined;

/**
 * Faults for the Configuration API: a queue consumed one per call (first), then an optional plan function
 * that can answer for any call (e.g. "every 3rd call is a 429").
 */
export class FaultInjector {
  private readonly queue: Fault[] = [];
  private plan: FaultPlan | undefined;
  private n = 0;

  enqueue(...faults: Fault[]): void {
    this.queue.push(...faults);
  }

  setPlan(plan: FaultPlan | undefined): void {
    this.plan = plan;
  }

  clear(): void {
    this.queue.length = 0;
    this.plan = undefined;
  }

  next(method: string): Fault | undefined {
    this.n += 1;
    return this.queue.shift() ?? this.plan?.({ n: this.n, method });
  }
}
