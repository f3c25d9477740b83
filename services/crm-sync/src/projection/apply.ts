import type { ChatDomainEvent } from '@livechat-pipeline/livechat';
import { replaceNul } from './nul.js';
import { crmRowChanges } from './rows.js';
import { layerRows, outboxSql, statements, tableOrder } from './statements.js';

/** The part of a pg client the projection needs (the consumer runtime's transaction). */
export interface SqlExecutor {
  query(sql: string, params?: unknown[]): Promise<{ rows: unknown[] }>;
}

/**
 * Applies a batch of (deduplicated) chat events inside the runtime's transaction: the projection's upserts, then
 * the outbox intents of the threads they touched. No HTTP here: HubSpot is the worker's business, so an outage
 * there never holds a partition.
 */
export async function applyCrmEvents(
  events: readonly ChatDomainEvent[],
  tx: SqlExecutor,
  schema: string,
  settleMs: number,
): Promise<void> {
  const changes = crmRowChanges(events);
  const s = quoteIdent(schema);
  // What the chats and customers upserts return: chats linked to their customer now, customers whose name or
  // e-mail changed.
  const linked: object[] = [];
  const changedCustomers: object[] = [];
  for (const table of tableOrder) {
    const rows = replaceNul(changes[table] as readonly object[]);
    if (rows.length === 0) continue;
    const statement = statements[table] as unknown as {
      key: (row: object) => string;
      sql: (s: string) => string;
    };
    const sql = statement.sql(s);
    for (const layer of layerRows(rows, statement.key)) {
      const result = await tx.query(sql, [JSON.stringify(layer)]);
      if (table === 'chats') linked.push(...(result.rows as object[]));
      else if (table === 'customers') changedCustomers.push(...(result.rows as object[]));
    }
  }
  const threads = replaceNul([
    ...new Map(
      changes.touchedThreads.map((t) => [`${t.tenant}\u001f${t.chat_id}\u001f${t.thread_id}`, t]),
    ).values(),
  ]);
  if (threads.length === 0 && linked.length === 0 && changedCustomers.length === 0) return;
  await tx.query(outboxSql(s), [
    JSON.stringify(threads),
    JSON.stringify(linked),
    JSON.stringify(changedCustomers),
    settleMs,
  ]);
}

export function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}
