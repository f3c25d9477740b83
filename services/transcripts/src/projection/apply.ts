import type { ChatDomainEvent } from '@livechat-pipeline/livechat';
import { replaceNul } from './nul.js';
import { transcriptRowChanges } from './rows.js';
import { layerRows, statements, tableOrder } from './statements.js';

/** The part of a pg client the projection needs (a transaction's client). */
export interface SqlExecutor {
  query(sql: string, params?: unknown[]): Promise<unknown>;
}

/**
 * Applies a batch of (deduplicated) chat events to the transcripts tables inside the caller's transaction. Every
 * U+0000 in what is written becomes U+FFFD (Postgres text and jsonb refuse U+0000; see `replaceNul`), before the
 * rows are layered by key, so two keys that differ only there still meet in one upsert per layer.
 */
export async function applyTranscriptEvents(
  events: readonly ChatDomainEvent[],
  tx: SqlExecutor,
  schema = 'transcripts',
): Promise<void> {
  const changes = transcriptRowChanges(events);
  for (const table of tableOrder) {
    const rows = replaceNul(changes[table] as readonly object[]);
    if (rows.length === 0) continue;
    const statement = statements[table] as unknown as {
      key: (row: object) => string;
      sql: (s: string) => string;
    };
    const sql = statement.sql(quoteIdent(schema));
    for (const layer of layerRows(rows, statement.key)) await tx.query(sql, [layer]);
  }
}

export function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}
