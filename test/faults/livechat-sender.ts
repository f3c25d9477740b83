import { createWriteStream, type WriteStream } from 'node:fs';
import type { Delivery, ExpectedChat } from '@livechat-pipeline/traffic-simulator';

/**
 * LiveChat as a sender: webhooks posted at a steady rate (open loop: a slow answer does not slow the offered
 * load) by many chats at once, each chat's webhooks one after another in the simulator's order (which already
 * holds LiveChat's duplicates and local reordering). A delivery that is not answered 200 within LiveChat's 10 s
 * timeout is retried 3 times within about a minute, then given up (the chat is then incomplete: LiveChat has no
 * replay). Every 200 goes into the ledger.
 */

export interface SimulatedChat {
  /** `<format>/<tenant>/<chat id>`: unique over both formats. */
  readonly key: string;
  readonly format: 'v2' | 'v3';
  readonly tenant: string;
  readonly chatId: string;
  readonly deliveries: readonly Delivery[];
  readonly expected: ExpectedChat;
}

/** One webhook the ingest answered 200. */
export interface LedgerEntry {
  readonly chatKey: string;
  readonly format: 'v2' | 'v3';
  readonly kind: string;
  /** The simulator's webhook index: every copy (LiveChat duplicate) of one webhook shares it. */
  readonly emissionIndex: number;
  /** The ingest's `event_id` from the answer. */
  readonly eventId: string;
  /** The body as posted (JSON text). */
  readonly body: string;
  /** 0 for the first try, 1–3 for LiveChat's retries. */
  readonly retry: number;
  /** Milliseconds from the start of the traffic. */
  readonly ackedAtMs: number;
  readonly latencyMs: number;
}

export interface SenderStats {
  readonly requests: number;
  readonly acked: number;
  /** Answers other than 200, and transport failures, by reason (`503 INGEST_…`, `timeout`, `ECONNREFUSED`, …). */
  readonly failures: Readonly<Record<string, number>>;
  /** Webhooks given up after LiveChat's retries. */
  readonly gaveUp: number;
  readonly chatsStarted: number;
  readonly longestRequestMs: number;
  readonly p99RequestMs: number;
  /** True when the senders ran out of simulated chats before they were told to stop. */
  readonly exhausted: boolean;
}

export interface SenderOptions {
  /** One ingest, or several fed alternately (request by request; a retry may go to another one). */
  readonly ingestUrl: string | readonly string[];
  readonly chats: readonly SimulatedChat[];
  readonly ratePerSecond: number;
  /** Chats sending at once (not counting those waiting for a retry). */
  readonly concurrentChats: number;
  /**
   * Chats started and not finished, those waiting for a retry included: while many wait (the ingest refusing),
   * new chats replace them only up to this bound, so the backlog after an outage stays small.
   */
  readonly maxActiveChats: number;
  readonly basicAuth: string;
  readonly ledgerFile: string;
  readonly requestTimeoutMs?: number;
  readonly retryDelaysMs?: readonly number[];
}

/** LiveChat: a 10 s timeout, then 3 retries within about a minute. */
export const LIVECHAT_TIMEOUT_MS = 10_000;
export const LIVECHAT_RETRY_DELAYS_MS: readonly number[] = [10_000, 20_000, 30_000];

interface ChatState {
  readonly chat: SimulatedChat;
  next: number;
  failures: number;
  inFlight: boolean;
  waitingForRetry: boolean;
}

export class LiveChatSender {
  readonly ledger: LedgerEntry[] = [];
  /** Chats with at least one webhook given up, by key. */
  readonly incompleteChats = new Set<string>();
  /** Chats whose every webhook was sent (acknowledged or given up). */
  readonly finishedChats: SimulatedChat[] = [];
  readonly #options: SenderOptions;
  readonly #ledgerOut: WriteStream;
  readonly #ready: ChatState[] = [];
  readonly #active = new Set<ChatState>();
  readonly #latencies: number[] = [];
  readonly #failures: Record<string, number> = {};
  readonly #timers = new Set<NodeJS.Timeout>();
  #nextChat = 0;
  #requests = 0;
  #gaveUp = 0;
  #longest = 0;
  #dispatched = 0;
  #startedAt = 0;
  #pacer: NodeJS.Timeout | undefined;
  #accepting = true;
  #exhausted = false;
  #onIdle: (() => void) | undefined;

  constructor(options: SenderOptions) {
    this.#options = options;
    this.#ledgerOut = createWriteStream(options.ledgerFile);
  }

  get startedAt(): number {
    return this.#startedAt;
  }

  start(): void {
    this.#startedAt = performance.now();
    this.#pacer = setInterval(() => this.#tick(), 10);
  }

  /**
   * Stops starting new chats; resolves once every started chat has sent its last webhook, or at the deadline with
   * the chats still sending (they are then counted incomplete).
   */
  async finish(timeoutMs: number): Promise<{ unfinished: number }> {
    this.#accepting = false;
    let timer: NodeJS.Timeout | undefined;
    if (this.#active.size > 0)
      await Promise.race([
        new Promise<void>((resolve) => (this.#onIdle = resolve)),
        new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs))),
      ]);
    clearTimeout(timer);
    const unfinished = [...this.#active];
    for (const state of unfinished) this.incompleteChats.add(state.chat.key);
    this.abort();
    await new Promise<void>((resolve) =>
      this.#ledgerOut.writableFinished ? resolve() : this.#ledgerOut.once('finish', resolve),
    );
    return { unfinished: unfinished.length };
  }

  /** Stops at once (a failed run): no retries, no new requests. */
  abort(): void {
    this.#accepting = false;
    clearInterval(this.#pacer);
    for (const timer of this.#timers) clearTimeout(timer);
    if (!this.#ledgerOut.writableEnded) this.#ledgerOut.end();
  }

  stats(): SenderStats {
    const sorted = [...this.#latencies].sort((a, b) => a - b);
    return {
      requests: this.#requests,
      acked: this.ledger.length,
      failures: { ...this.#failures },
      gaveUp: this.#gaveUp,
      chatsStarted: this.#nextChat,
      longestRequestMs: this.#longest,
      p99RequestMs:
        sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * 0.99))]!,
      exhausted: this.#exhausted,
    };
  }

  #elapsed(): number {
    return performance.now() - this.#startedAt;
  }

  #tick(): void {
    // Open loop: the webhooks owed by now, whatever happened to the earlier ones.
    const owed = Math.floor((this.#elapsed() / 1000) * this.#options.ratePerSecond);
    while (this.#dispatched < owed) {
      this.#dispatched++;
      const state = this.#nextReady();
      if (state === undefined) {
        // Nothing ready (all chats wait for an answer or a retry, or the run is ending): this slot stays empty.
        this.#dispatched = owed;
        return;
      }
      void this.#send(state);
    }
  }

  #nextReady(): ChatState | undefined {
    const sending = [...this.#active].filter((s) => !s.waitingForRetry).length;
    for (let i = sending; i < this.#options.concurrentChats && this.#canActivate(); i++) this.#activate();
    const ready = this.#ready.shift();
    if (ready !== undefined || !this.#canActivate()) return ready;
    this.#activate();
    return this.#ready.shift();
  }

  #canActivate(): boolean {
    return this.#accepting && this.#active.size < this.#options.maxActiveChats;
  }

  #activate(): void {
    const chat = this.#options.chats[this.#nextChat];
    if (chat === undefined) {
      this.#exhausted = true;
      return;
    }
    this.#nextChat++;
    const state: ChatState = { chat, next: 0, failures: 0, inFlight: false, waitingForRetry: false };
    this.#active.add(state);
    this.#ready.push(state);
  }

  async #send(state: ChatState): Promise<void> {
    const delivery = state.chat.deliveries[state.next]!;
    const body = JSON.stringify(delivery.body);
    state.inFlight = true;
    this.#requests++;
    const started = performance.now();
    let outcome: { ok: true; eventId: string } | { ok: false; reason: string };
    try {
      const urls =
        typeof this.#options.ingestUrl === 'string' ? [this.#options.ingestUrl] : this.#options.ingestUrl;
      const url = urls[this.#requests % urls.length]!;
      const response = await fetch(`${url}/webhooks/livechat`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          ...(delivery.format === 'v2' ? { authorization: this.#options.basicAuth } : {}),
        },
        body,
        signal: AbortSignal.timeout(this.#options.requestTimeoutMs ?? LIVECHAT_TIMEOUT_MS),
      });
      const text = await response.text();
      if (response.status === 200) {
        const eventId = (JSON.parse(text) as { event_id?: unknown }).event_id;
        outcome =
          typeof eventId === 'string'
            ? { ok: true, eventId }
            : { ok: false, reason: '200 without an event_id' };
      } else {
        let code = '';
        try {
          code = String((JSON.parse(text) as { code?: unknown }).code ?? '');
        } catch {
          // not JSON: the status says enough
        }
        outcome = { ok: false, reason: `${response.status}${code === '' ? '' : ` ${code}`}` };
      }
    } catch (error) {
      outcome = { ok: false, reason: transportFailure(error) };
    }
    const latency = performance.now() - started;
    this.#latencies.push(latency);
    this.#longest = Math.max(this.#longest, latency);
    state.inFlight = false;

    if (outcome.ok) {
      const entry: LedgerEntry = {
        chatKey: state.chat.key,
        format: delivery.format,
        kind: delivery.kind,
        emissionIndex: delivery.emissionIndex,
        eventId: outcome.eventId,
        body,
        retry: state.failures,
        ackedAtMs: Math.round(this.#elapsed()),
        latencyMs: Math.round(latency * 10) / 10,
      };
      this.ledger.push(entry);
      this.#ledgerOut.write(`${JSON.stringify(entry)}\n`);
      this.#advance(state);
      return;
    }
    this.#failures[outcome.reason] = (this.#failures[outcome.reason] ?? 0) + 1;
    const delays = this.#options.retryDelaysMs ?? LIVECHAT_RETRY_DELAYS_MS;
    if (state.failures >= delays.length) {
      this.#gaveUp++;
      this.incompleteChats.add(state.chat.key);
      this.#advance(state);
      return;
    }
    const delay = delays[state.failures]!;
    state.failures++;
    state.waitingForRetry = true;
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      state.waitingForRetry = false;
      this.#ready.push(state);
    }, delay);
    this.#timers.add(timer);
  }

  /** The chat's next webhook, or the chat is done. */
  #advance(state: ChatState): void {
    state.failures = 0;
    state.next++;
    if (state.next < state.chat.deliveries.length) {
      this.#ready.push(state);
      return;
    }
    this.#active.delete(state);
    this.finishedChats.push(state.chat);
    if (!this.#accepting && this.#active.size === 0) this.#onIdle?.();
  }
}

function transportFailure(error: unknown): string {
  if (error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError'))
    return 'timeout';
  const cause = error instanceof Error ? (error.cause as { code?: unknown } | undefined) : undefined;
  if (typeof cause?.code === 'string') return cause.code;
  return error instanceof Error ? error.name : 'unknown';
}
