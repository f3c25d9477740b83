import type { ChatDomainEvent } from '@livechat-pipeline/livechat';
import { replaceNul } from './nul.js';
import { crmRowChanges } from './rows.js';
import { layerRows, outboxSql, statements, tableOrder } from './statements.js';

/** The part of a pg client the projection needs (the consumer runtime's transaction). */
export interface SqlExecutor {
  query(sql: string, params?: unknown[]): Promise<unknown>;
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
  for (const table of tableOrder) {
    const rows = replaceNul(changes[table] as readonly object[]);
    if (rows.length === 0) continue;
    const statement = statements[table] as unknown as {
      key: (row: object) => string;
      sql: (s: string) => string;
    };
    const sql = statement.sql(s);
    for (const layer of layerRows(rows, statement.key)) await tx.query(sql, [JSON.stringify(layer)]);
  }
  const chats = replaceNul([
    ...new Map(
      changes.chats.map((c) => [`${c.tenant}\u001f${c.chat_id}`, { tenant: c.tenant, chat_id: c.chat_id }]),
    ).values(),
  ]);
  const customers = replaceNul(changes.touchedCustomers);
  if (chats.length === 0 && customers.length === 0) return;
  await tx.query(outboxSql(s), [JSON.stringify(chats), JSON.stringify(customers), settleMs]);
}

export function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}
