import { randomUUID } from 'node:crypto';
import type pg from 'pg';

/**
 * Postgres state of the archive walks (backfill and reconciliation), in the app's schema: one row per walk with its
 * checkpoint (the page_id to go on from) and a lease, so that a crash or Ctrl-C resumes where the last acknowledged
 * page ended and two app replicas never run the same walk; the fingerprint of every thread written from the
 * archives (reconciliation writes only what is new or changed); the reconciliation watermark per tenant.
 */
export type WalkKind = 'backfill' | 'reconcile';
export type WalkStatus = 'running' | 'done' | 'failed';

export interface ArchiveWalk {
  readonly id: string;
  readonly tenantId: string;
  readonly kind: WalkKind;
  /** `install` (after a connect), `cli`, `schedule`. */
  readonly trigger: string;
  readonly since: Date;
  readonly until: Date;
  readonly status: WalkStatus;
  /** Where the walk goes on from (null: from the first request, with filters). */
  readonly pageId: string | null;
  readonly pages: number;
  readonly threads: number;
  readonly written: number;
  readonly restricted: number;
  readonly foundChats: number | null;
  /** created_at (RFC 3339, µs) of the last thread acknowledged: where a walk restarts when its page_id expired. */
  readonly lastThreadCreatedAt: string | null;
  readonly errorCode: string | null;
  readonly errorMessage: string | null;
  readonly startedAt: Date;
  readonly updatedAt: Date;
  readonly finishedAt: Date | null;
}

export interface ThreadFingerprint {
  readonly threadId: string;
  readonly chatId: string;
  readonly fingerprint: string;
  readonly active: boolean;
  readonly createdAt: string;
}

const ident = (schema: string) => {
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(schema)) throw new Error(`bad schema name ${schema}`);
  return `"${schema}"`;
};

function migration(s: string): string {
  return `
create table if not exists ${s}.archive_walks (
  id bigserial primary key,
  tenant_id text not null,
  kind text not null check (kind in ('backfill', 'reconcile')),
  trigger text not null,
  since timestamptz not null,
  until timestamptz not null,
  status text not null default 'running' check (status in ('running', 'done', 'failed')),
  page_id text,
  pages integer not null default 0,
  threads integer not null default 0,
  written integer not null default 0,
  restricted integer not null default 0,
  found_chats integer,
  last_thread_created_at text,
  error_code text,
  error_message text,
  lease_owner text,
  lease_until timestamptz,
  started_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  finished_at timestamptz
);
create unique index if not exists archive_walks_one_running on ${s}.archive_walks (tenant_id, kind) where status = 'running';
create table if not exists ${s}.archive_threads (
  tenant_id text not null,
  thread_id text not null,
  chat_id text not null,
  fingerprint text not null,
  active boolean not null,
  thread_created_at text not null,
  written_at timestamptz not null default now(),
  primary key (tenant_id, thread_id)
);
create index if not exists archive_threads_active on ${s}.archive_threads (tenant_id, written_at) where active;
create table if not exists ${s}.reconcile_watermarks (
  tenant_id text primary key,
  watermark timestamptz not null,
  updated_at timestamptz not null default now()
);`;
}

interface WalkRow {
  id: string;
  tenant_id: string;
  kind: WalkKind;
  trigger: string;
  since: Date;
  until: Date;
  status: WalkStatus;
  page_id: string | null;
  pages: number;
  threads: number;
  written: number;
  restricted: number;
  found_chats: number | null;
  last_thread_created_at: string | null;
  error_code: string | null;
  error_message: string | null;
  started_at: Date;
  updated_at: Date;
  finished_at: Date | null;
}

const toWalk = (r: WalkRow): ArchiveWalk => ({
  id: String(r.id),
  tenantId: r.tenant_id,
  kind: r.kind,
  trigger: r.trigger,
  since: r.since,
  until: r.until,
  status: r.status,
  pageId: r.page_id,
  pages: r.pages,
  threads: r.threads,
  written: r.written,
  restricted: r.restricted,
  foundChats: r.found_chats,
  lastThreadCreatedAt: r.last_thread_created_at,
  errorCode: r.error_code,
  errorMessage: r.error_message,
  startedAt: r.started_at,
  updatedAt: r.updated_at,
  finishedAt: r.finished_at,
});

export class ArchiveStore {
  private readonly s: string;
  /** This process: the lease owner of the walks it runs. */
  readonly owner = `${process.pid}-${randomUUID()}`;

  constructor(
    private readonly pool: pg.Pool,
    options: { schema: string; leaseSeconds?: number },
  ) {
    this.s = ident(options.schema);
    this.leaseSeconds = options.leaseSeconds ?? 60;
  }

  readonly leaseSeconds: number;

  async migrate(): Promise<void> {
    const client = await this.pool.connect();
    try {
      // Replicas start together: one migrates, the others wait for it (create-if-not-exists races otherwise).
      await client.query('select pg_advisory_lock(hashtext($1))', [`${this.s}.archive-migrations`]);
      try {
        await client.query(migration(this.s));
      } finally {
        await client.query('select pg_advisory_unlock(hashtext($1))', [`${this.s}.archive-migrations`]);
      }
    } finally {
      client.release();
    }
  }

  /** The running walk of this kind for the tenant, or a new one with these bounds (one running per tenant and kind). */
  async openWalk(input: {
    tenantId: string;
    kind: WalkKind;
    trigger: string;
    since: Date;
    until: Date;
  }): Promise<{ walk: ArchiveWalk; created: boolean }> {
    const inserted = await this.pool.query<WalkRow>(
      `insert into ${this.s}.archive_walks (tenant_id, kind, trigger, since, until) values ($1, $2, $3, $4, $5)
       on conflict (tenant_id, kind) where status = 'running' do nothing returning *`,
      [input.tenantId, input.kind, input.trigger, input.since, input.until],
    );
    if (inserted.rows[0] !== undefined) return { walk: toWalk(inserted.rows[0]), created: true };
    const running = await this.runningWalk(input.tenantId, input.kind);
    if (running === null) return this.openWalk(input); // it finished meanwhile
    return { walk: running, created: false };
  }

  async runningWalk(tenantId: string, kind: WalkKind): Promise<ArchiveWalk | null> {
    const r = await this.pool.query<WalkRow>(
      `select * from ${this.s}.archive_walks where tenant_id = $1 and kind = $2 and status = 'running'`,
      [tenantId, kind],
    );
    return r.rows[0] === undefined ? null : toWalk(r.rows[0]);
  }

  async getWalk(id: string): Promise<ArchiveWalk | null> {
    const r = await this.pool.query<WalkRow>(`select * from ${this.s}.archive_walks where id = $1`, [id]);
    return r.rows[0] === undefined ? null : toWalk(r.rows[0]);
  }

  /** The tenant's latest walks of a kind, newest first (the settings page). */
  async recentWalks(tenantId: string, kind: WalkKind, limit = 3): Promise<ArchiveWalk[]> {
    const r = await this.pool.query<WalkRow>(
      `select * from ${this.s}.archive_walks where tenant_id = $1 and kind = $2 order by id desc limit $3`,
      [tenantId, kind, limit],
    );
    return r.rows.map(toWalk);
  }

  /** The end of the tenant's last finished backfill (a reconnect backfills only the gap since). */
  async lastBackfilledUntil(tenantId: string): Promise<Date | null> {
    const r = await this.pool.query<{ until: Date | null }>(
      `select max(until) as until from ${this.s}.archive_walks where tenant_id = $1 and kind = 'backfill' and status = 'done'`,
      [tenantId],
    );
    return r.rows[0]?.until ?? null;
  }

  /** Takes (or renews) the walk's lease: false when another live process holds it. */
  async claim(walkId: string): Promise<boolean> {
    const r = await this.pool.query(
      `update ${this.s}.archive_walks set lease_owner = $2, lease_until = now() + make_interval(secs => $3)
       where id = $1 and status = 'running' and (lease_owner is null or lease_owner = $2 or lease_until < now())`,
      [walkId, this.owner, this.leaseSeconds],
    );
    return r.rowCount === 1;
  }

  /** Renews this process's own lease only (never takes a released or foreign one). */
  async renew(walkId: string): Promise<boolean> {
    const r = await this.pool.query(
      `update ${this.s}.archive_walks set lease_until = now() + make_interval(secs => $3)
       where id = $1 and status = 'running' and lease_owner = $2`,
      [walkId, this.owner, this.leaseSeconds],
    );
    return r.rowCount === 1;
  }

  async release(walkId: string): Promise<void> {
    await this.pool.query(
      `update ${this.s}.archive_walks set lease_owner = null, lease_until = null where id = $1 and lease_owner = $2`,
      [walkId, this.owner],
    );
  }

  /** The fingerprints we hold for these threads. */
  async fingerprints(tenantId: string, threadIds: readonly string[]): Promise<Map<string, string>> {
    if (threadIds.length === 0) return new Map();
    const r = await this.pool.query<{ thread_id: string; fingerprint: string }>(
      `select thread_id, fingerprint from ${this.s}.archive_threads where tenant_id = $1 and thread_id = any($2::text[])`,
      [tenantId, threadIds],
    );
    return new Map(r.rows.map((row) => [row.thread_id, row.fingerprint]));
  }

  /**
   * Moves the checkpoint past a page whose records Kafka acknowledged, with the fingerprints of the threads written,
   * in one transaction, and only while this process holds the lease (compare-and-set: false = lease lost, stop).
   */
  async checkpoint(
    walkId: string,
    tenantId: string,
    page: {
      nextPageId: string | null;
      threads: number;
      written: readonly ThreadFingerprint[];
      restricted: number;
      foundChats: number | null;
      lastThreadCreatedAt: string | null;
    },
  ): Promise<boolean> {
    const client = await this.pool.connect();
    try {
      await client.query('begin');
      const r = await client.query(
        `update ${this.s}.archive_walks set page_id = $3, pages = pages + 1, threads = threads + $4, written = written + $5,
           restricted = restricted + $6, found_chats = coalesce($7, found_chats),
           last_thread_created_at = coalesce($8, last_thread_created_at), updated_at = now(),
           lease_until = now() + make_interval(secs => $9),
           status = case when $3::text is null then 'done' else status end,
           finished_at = case when $3::text is null then now() else finished_at end
         where id = $1 and lease_owner = $2 and status = 'running'`,
        [
          walkId,
          this.owner,
          page.nextPageId,
          page.threads,
          page.written.length,
          page.restricted,
          page.foundChats,
          page.lastThreadCreatedAt,
          this.leaseSeconds,
        ],
      );
      if (r.rowCount !== 1) {
        await client.query('rollback');
        return false;
      }
      if (page.written.length > 0)
        await client.query(
          `insert into ${this.s}.archive_threads (tenant_id, thread_id, chat_id, fingerprint, active, thread_created_at)
           select $1, * from unnest($2::text[], $3::text[], $4::text[], $5::boolean[], $6::text[])
           on conflict (tenant_id, thread_id) do update set chat_id = excluded.chat_id, fingerprint = excluded.fingerprint,
             active = excluded.active, thread_created_at = excluded.thread_created_at, written_at = now()`,
          [
            tenantId,
            page.written.map((w) => w.threadId),
            page.written.map((w) => w.chatId),
            page.written.map((w) => w.fingerprint),
            page.written.map((w) => w.active),
            page.written.map((w) => w.createdAt),
          ],
        );
      await client.query('commit');
      return true;
    } catch (err) {
      await client.query('rollback').catch(() => undefined);
      throw err;
    } finally {
      client.release();
    }
  }

  /** Records fingerprints outside a walk (get_chat of a thread left open). */
  async recordThreads(tenantId: string, written: readonly ThreadFingerprint[]): Promise<void> {
    if (written.length === 0) return;
    await this.pool.query(
      `insert into ${this.s}.archive_threads (tenant_id, thread_id, chat_id, fingerprint, active, thread_created_at)
       select $1, * from unnest($2::text[], $3::text[], $4::text[], $5::boolean[], $6::text[])
       on conflict (tenant_id, thread_id) do update set chat_id = excluded.chat_id, fingerprint = excluded.fingerprint,
         active = excluded.active, thread_created_at = excluded.thread_created_at, written_at = now()`,
      [
        tenantId,
        written.map((w) => w.threadId),
        written.map((w) => w.chatId),
        written.map((w) => w.fingerprint),
        written.map((w) => w.active),
        written.map((w) => w.createdAt),
      ],
    );
  }

  /** A walk whose page_id LiveChat no longer accepts goes on from its last thread with a new first request. */
  async restartFromLastThread(walkId: string): Promise<void> {
    await this.pool.query(
      `update ${this.s}.archive_walks set page_id = null, updated_at = now() where id = $1 and lease_owner = $2`,
      [walkId, this.owner],
    );
  }

  async finish(
    walkId: string,
    outcome: { status: 'done' } | { status: 'failed'; code: string; message: string },
  ) {
    await this.pool.query(
      `update ${this.s}.archive_walks set status = $3, error_code = $4, error_message = $5, finished_at = now(),
         updated_at = now(), lease_owner = null, lease_until = null
       where id = $1 and lease_owner = $2 and status = 'running'`,
      [
        walkId,
        this.owner,
        outcome.status,
        outcome.status === 'failed' ? outcome.code : null,
        outcome.status === 'failed' ? outcome.message.slice(0, 500) : null,
      ],
    );
  }

  /** Threads we last wrote as active, written before `before`: candidates for get_chat. */
  async staleActiveThreads(tenantId: string, before: Date, limit = 100): Promise<ThreadFingerprint[]> {
    const r = await this.pool.query<{
      thread_id: string;
      chat_id: string;
      fingerprint: string;
      thread_created_at: string;
    }>(
      `select thread_id, chat_id, fingerprint, thread_created_at from ${this.s}.archive_threads
       where tenant_id = $1 and active and written_at < $2 order by written_at limit $3`,
      [tenantId, before, limit],
    );
    return r.rows.map((row) => ({
      threadId: row.thread_id,
      chatId: row.chat_id,
      fingerprint: row.fingerprint,
      active: true,
      createdAt: row.thread_created_at,
    }));
  }

  /**
   * A session advisory lock for a tenant's `what`, on a connection of its own: null when another session holds it.
   * `release()` unlocks and returns the connection (a broken one is closed, which frees the lock too).
   */
  async tryTenantLock(tenantId: string, what: string): Promise<{ release(): Promise<void> } | null> {
    const client = await this.pool.connect();
    const key = `${this.s}.archive.${what}.${tenantId}`;
    try {
      const r = await client.query<{ ok: boolean }>('select pg_try_advisory_lock(hashtext($1)) as ok', [key]);
      if (r.rows[0]?.ok !== true) {
        client.release();
        return null;
      }
    } catch (err) {
      client.release(true);
      throw err;
    }
    return {
      release: async () => {
        let broken: Error | undefined;
        await client.query('select pg_advisory_unlock(hashtext($1))', [key]).catch((err: unknown) => {
          broken = err instanceof Error ? err : new Error(String(err));
        });
        client.release(broken);
      },
    };
  }

  async watermark(tenantId: string): Promise<Date | null> {
    const r = await this.pool.query<{ watermark: Date }>(
      `select watermark from ${this.s}.reconcile_watermarks where tenant_id = $1`,
      [tenantId],
    );
    return r.rows[0]?.watermark ?? null;
  }

  async setWatermark(tenantId: string, watermark: Date): Promise<void> {
    await this.pool.query(
      `insert into ${this.s}.reconcile_watermarks (tenant_id, watermark) values ($1, $2)
       on conflict (tenant_id) do update set watermark = greatest(excluded.watermark, reconcile_watermarks.watermark), updated_at = now()`,
      [tenantId, watermark],
    );
  }
}
