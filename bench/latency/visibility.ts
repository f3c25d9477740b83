/**
 * When each measured webhook's row becomes visible in `<schema>.chat_transcript`: one query every --poll-ms for
 * every pending row at once (tenant = any, chat_id = any, event_id = any: the first two reach the entries' primary
 * key through the view, whose window partitions by them; matches are checked exactly here). A row first seen by
 * the query sent at t was committed after the previous query's snapshot and before this one's, so t is an upper
 * bound of its visibility that is at most one period (plus a query) late: the figure errs against us, never for us.
 * Why polling rather than LISTEN/NOTIFY: a trigger would put work of the benchmark's into the projection's
 * transactions (and onto the tables users query), and a notification only says a transaction committed, not that a
 * reader sees the view's row; ~60 small index-only queries a second cost Postgres little.
 */
import type pg from 'pg';
import { setTimeout as sleep } from 'node:timers/promises';
import type { MeasuredRow } from './traffic.js';
import { nowMs } from './settings.js';

interface Waiting {
  readonly n: number;
  readonly row: MeasuredRow;
  readonly answeredAtMs: number;
}

export interface Visibility {
  /** nowMs of the query that first saw the row. */
  readonly visibleAtMs: number;
}

export class VisibilityWatch {
  private readonly waiting = new Map<string, Waiting>();
  readonly visible = new Map<number, Visibility>();
  /** Request numbers whose row was not visible within the deadline. */
  readonly missing: number[] = [];
  private running = true;
  private loop: Promise<void> | undefined;
  queries = 0;
  queryMs = 0;

  constructor(
    private readonly client: pg.Client,
    private readonly schema: string,
    private readonly pollMs: number,
    private readonly deadlineMs: number,
  ) {}

  add(n: number, row: MeasuredRow, answeredAtMs: number): void {
    this.waiting.set(`${row.tenant}\u0000${row.chatId}\u0000${row.eventId}`, { n, row, answeredAtMs });
  }

  get pending(): number {
    return this.waiting.size;
  }

  start(): void {
    this.loop = this.poll();
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
  }

  private async poll(): Promise<void> {
    const sql = `select tenant, chat_id, event_id from "${this.schema}".chat_transcript
                 where tenant = any($1::text[]) and chat_id = any($2::text[]) and event_id = any($3::text[])`;
    while (this.running) {
      const sentAt = nowMs();
      if (this.waiting.size > 0) {
        const tenants = new Set<string>();
        const chats = new Set<string>();
        const events: string[] = [];
        for (const w of this.waiting.values()) {
          tenants.add(w.row.tenant);
          chats.add(w.row.chatId);
          events.push(w.row.eventId);
        }
        const { rows } = await this.client.query<{ tenant: string; chat_id: string; event_id: string }>(sql, [
          [...tenants],
          [...chats],
          events,
        ]);
        this.queries++;
        this.queryMs += nowMs() - sentAt;
        for (const r of rows) {
          const key = `${r.tenant}\u0000${r.chat_id}\u0000${r.event_id}`;
          const w = this.waiting.get(key);
          if (w === undefined) continue;
          this.waiting.delete(key);
          this.visible.set(w.n, { visibleAtMs: sentAt });
        }
        for (const [key, w] of this.waiting)
          if (sentAt - w.answeredAtMs > this.deadlineMs) {
            this.waiting.delete(key);
            this.missing.push(w.n);
          }
      }
      const wait = sentAt + this.pollMs - nowMs();
      if (wait > 0) await sleep(wait);
    }
  }
}
