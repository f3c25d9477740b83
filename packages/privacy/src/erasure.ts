import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import { PrivacyError, isPrivacyError } from './errors.js';
import { quoteSchema } from './migrations.js';
import {
  ERASE_STATEMENT_TIMEOUT_MS,
  MAX_CHATS_PER_CALL,
  type CustomerSubject,
  type ErasureResult,
  type PrivacyVault,
} from './vault.js';

/** The projections that ship an erase function, and whether theirs takes the request id (crm's does). */
export const PROJECTION_NAMES = ['transcripts', 'analytics', 'crm'] as const;
/** PRIVACY_PROJECTIONS when unset: every projection, each in the schema of its name. */
export const PRIVACY_PROJECTIONS_DEFAULT = 'transcripts,analytics,crm';
export type ProjectionName = (typeof PROJECTION_NAMES)[number];

/** One projection to erase: `<schema>.erase_chats(tenant, chat_ids[, request_id]) returns bigint`. */
export interface ProjectionEraser {
  readonly name: ProjectionName;
  /** The schema its service migrates (the function lives there). */
  readonly schema: string;
}

export interface ErasureDeps {
  readonly vault: PrivacyVault;
  /** A pool on the projections' database (each erase function runs in its own transaction on it). */
  readonly pool: pg.Pool;
  readonly projections: readonly ProjectionEraser[];
  /**
   * The statement timeout of each projection step (ERASE_STATEMENT_TIMEOUT_MS unless given), set for its own
   * transaction: the pool may be a read pool with a short `statement_timeout` that a big customer's erasure
   * would hit on every retry.
   */
  readonly statementTimeoutMs?: number;
}

export type ErasureCommand = {
  readonly tenantId: string;
  /** Makes the erasure idempotent; one is generated when absent (and returned). */
  readonly requestId?: string | undefined;
  /** Who asked: an admin key id, an operator, `retention`; never the data subject. */
  readonly actor: string;
} & ({ readonly subject: CustomerSubject } | { readonly chatIds: readonly string[] });

export interface ErasureOutcome extends ErasureResult {
  /** The chats the projections were asked to erase. */
  readonly chatIds: readonly string[];
  /** Rows each projection's erase function removed or anonymised in this run. */
  readonly projections: Readonly<Record<string, number>>;
}

/**
 * Parses a projection list (`PRIVACY_PROJECTIONS`): comma-separated `name` or `name:schema`, names from
 * PROJECTION_NAMES, each at most once, schemas plain identifiers. Returns the problems rather than throwing.
 */
export function parseProjectionList(
  value: string,
): { ok: true; projections: ProjectionEraser[] } | { ok: false; problems: string[] } {
  const projections: ProjectionEraser[] = [];
  const problems: string[] = [];
  for (const entry of value
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')) {
    const [name, schema = name, extra] = entry.split(':').map((s) => s.trim());
    if (!(PROJECTION_NAMES as readonly string[]).includes(name!) || extra !== undefined) {
      problems.push(
        `"${entry.slice(0, 80)}": must be name or name:schema, name one of ${PROJECTION_NAMES.join(', ')}`,
      );
      continue;
    }
    if (!/^[a-z_][a-z0-9_]{0,62}$/.test(schema!)) {
      problems.push(`"${entry.slice(0, 80)}": the schema must be a plain lower-case SQL identifier`);
      continue;
    }
    if (projections.some((p) => p.name === name)) {
      problems.push(`"${name}" is named twice`);
      continue;
    }
    projections.push({ name: name as ProjectionName, schema: schema! });
  }
  return problems.length > 0 ? { ok: false, problems } : { ok: true, projections };
}

/**
 * Erases a customer (or named chats) everywhere: the vault first (keys crypto-shredded, index rows deleted, audit
 * row), then every projection's erase function, then the rows they removed added to the audit. Idempotent per
 * request id: a second run changes nothing in the vault and returns its first counts (`alreadyDone`), and
 * re-applies the projection step, which finds nothing left (or what a late writer with a cached key put back).
 * A projection step that fails throws PRIVACY_PROJECTION_ERASE_FAILED naming the projection and the request id
 * (retryable: run again with that id); the keys are erased already by then.
 */
export async function runErasure(deps: ErasureDeps, command: ErasureCommand): Promise<ErasureOutcome> {
  const requestId = command.requestId ?? randomUUID();
  const request = { requestId, actor: command.actor };
  const result =
    'subject' in command
      ? await deps.vault.eraseCustomer(command.tenantId, command.subject, request)
      : await deps.vault.eraseChats(command.tenantId, command.chatIds, request);
  // The request's tombstones name every chat it erased (eraseCustomer selects them inside its transaction);
  // chats named explicitly but erased earlier by another request are added so the projections see them too.
  const ofRequest = await deps.vault.chatsOfErasure(requestId);
  const chatIds = [
    ...new Set([...(ofRequest?.chatIds ?? []), ...('chatIds' in command ? command.chatIds : [])]),
  ].sort();
  const projections = await eraseProjections(deps, command.tenantId, chatIds, requestId);
  await deps.vault.recordProjectionCounts(requestId, projections, { swept: false });
  return { ...result, chatIds, projections };
}

/**
 * Step 2 of an erasure: each configured projection's `erase_chats` in its own transaction. Returns the rows
 * removed per projection (0 for all when there are no chats: nothing is called), in slices of MAX_CHATS_PER_CALL.
 */
export async function eraseProjections(
  deps: Pick<ErasureDeps, 'pool' | 'projections' | 'statementTimeoutMs'>,
  tenantId: string,
  chatIds: readonly string[],
  requestId: string,
): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const projection of deps.projections) {
    counts[projection.name] = 0;
    // a customer's chats may be any number: each call gets at most MAX_CHATS_PER_CALL (one bounded statement)
    for (let at = 0; at < chatIds.length; at += MAX_CHATS_PER_CALL)
      counts[projection.name]! += await eraseOne(
        deps.pool,
        deps.statementTimeoutMs ?? ERASE_STATEMENT_TIMEOUT_MS,
        projection,
        tenantId,
        chatIds.slice(at, at + MAX_CHATS_PER_CALL),
        requestId,
      );
  }
  return counts;
}

async function eraseOne(
  pool: pg.Pool,
  statementTimeoutMs: number,
  projection: ProjectionEraser,
  tenantId: string,
  chatIds: readonly string[],
  requestId: string,
): Promise<number> {
  const fn = `${quoteSchema(projection.schema)}.erase_chats`;
  const withRequestId = projection.name === 'crm';
  let client: pg.PoolClient;
  try {
    client = await pool.connect();
  } catch (err) {
    throw projectionFailed(projection, requestId, err);
  }
  let lost: Error | undefined;
  const onError = (error: Error): void => {
    lost ??= error;
  };
  client.on('error', onError);
  try {
    await client.query('begin');
    await client.query(`select set_config('statement_timeout', $1, true)`, [String(statementTimeoutMs)]);
    const { rows } = await client.query<{ n: string | null }>(
      withRequestId
        ? `select ${fn}($1::text, $2::text[], $3::text) as n`
        : `select ${fn}($1::text, $2::text[]) as n`,
      withRequestId ? [tenantId, chatIds, requestId] : [tenantId, chatIds],
    );
    await client.query('commit');
    return Number(rows[0]?.n ?? 0);
  } catch (err) {
    await client.query('rollback').catch(() => undefined);
    throw projectionFailed(projection, requestId, err);
  } finally {
    client.off('error', onError);
    client.release(lost);
  }
}

function projectionFailed(projection: ProjectionEraser, requestId: string, err: unknown): PrivacyError {
  if (isPrivacyError(err)) return err;
  const code = (err as { code?: unknown }).code;
  const what =
    code === '42883' || code === '3F000'
      ? `${projection.schema}.erase_chats does not exist (has the ${projection.name} service migrated its schema?)`
      : `${projection.schema}.erase_chats failed: ${(err as Error).message}`;
  return new PrivacyError(
    'PRIVACY_PROJECTION_ERASE_FAILED',
    `erasure ${requestId}: projection ${projection.name}: ${what}; the keys are erased, run it again with request id ${requestId}`,
    { cause: err },
  );
}

/** Called for each request (sweep) or batch (retention) whose projection step failed; the others go on. */
export type ProjectionStepFailure = (requestId: string, tenantId: string | null, error: unknown) => void;

/**
 * Step 3: erasures older than `olderThanMs` (the key cache TTL) and not swept yet get the projection step again
 * (a process may have written a personal value with a cached key after the first pass), then are marked swept.
 * A request whose step fails is reported to `onFailure`, stays unswept (the next sweep tries it again) and does
 * not stop the requests after it: one broken projection or tenant never holds up every later erasure.
 */
export async function sweepErasures(
  deps: ErasureDeps,
  olderThanMs: number,
  options: { limit?: number; onFailure?: ProjectionStepFailure; signal?: AbortSignal } = {},
): Promise<{ swept: number; rows: number; failed: number }> {
  let swept = 0;
  let rows = 0;
  let failed = 0;
  for (const requestId of await deps.vault.erasuresDueForSweep(olderThanMs, options.limit ?? 100)) {
    // the caller lost what made it the one to run this (its lock): stop between requests
    if (options.signal?.aborted === true) break;
    let tenantId: string | null = null;
    try {
      const erasure = await deps.vault.chatsOfErasure(requestId);
      tenantId = erasure?.tenantId ?? null;
      const counts =
        erasure === null ? {} : await eraseProjections(deps, erasure.tenantId, erasure.chatIds, requestId);
      await deps.vault.recordProjectionCounts(requestId, counts, { swept: true });
      swept++;
      rows += Object.values(counts).reduce((a, b) => a + b, 0);
    } catch (error) {
      failed++;
      options.onFailure?.(requestId, tenantId, error);
    }
  }
  return { swept, rows, failed };
}

/**
 * Retention (vault.runRetention) with the projection step after each batch, so a chat past its tenant's days is
 * erased everywhere the same way an erasure request erases it. A batch whose projection step fails is reported to
 * `onFailure` and left to the sweep (its audit row stays unswept); the run goes on with the next batch.
 */
export async function runRetentionErasure(
  deps: ErasureDeps,
  options: {
    defaultDays: number | null;
    batchSize?: number;
    onBatch?: (tenantId: string, chatIds: readonly string[]) => void;
    onFailure?: ProjectionStepFailure;
    /** Aborted: the run stops after the batch in hand (PRIVACY_KEY_UNAVAILABLE, retryable). */
    signal?: AbortSignal;
  },
): Promise<{ erasures: number; keysErased: number; chats: number; failed: number }> {
  let chats = 0;
  let failed = 0;
  const done = await deps.vault.runRetention({
    defaultDays: options.defaultDays,
    ...(options.batchSize === undefined ? {} : { batchSize: options.batchSize }),
    onErased: async (tenantId, chatIds, result) => {
      chats += chatIds.length;
      options.onBatch?.(tenantId, chatIds);
      try {
        const counts = await eraseProjections(deps, tenantId, chatIds, result.requestId);
        await deps.vault.recordProjectionCounts(result.requestId, counts, { swept: false });
      } catch (error) {
        failed++;
        options.onFailure?.(result.requestId, tenantId, error);
      }
      if (options.signal?.aborted === true)
        throw new PrivacyError(
          'PRIVACY_KEY_UNAVAILABLE',
          'retention stopped: the job lost its lock (its connection to the key store); the next run goes on',
        );
    },
  });
  return { ...done, chats, failed };
}
