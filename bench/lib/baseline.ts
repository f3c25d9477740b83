import type pg from 'pg';

export interface TableRows {
  readonly table: string;
  readonly columns: readonly { readonly name: string; readonly json: boolean }[];
  readonly rows: readonly unknown[][];
}

export interface InsertStats {
  readonly rows: number;
  readonly statements: number;
  readonly seconds: number;
  readonly perTable: ReadonlyMap<string, number>;
}

const quote = (name: string): string => `"${name.replaceAll('"', '""')}"`;

/** Every row of the schema's own tables (bookkeeping tables `_…` left out), in primary-key order. */
export async function readTables(
  db: pg.Pool,
  schema: string,
  tables: readonly string[],
): Promise<TableRows[]> {
  const result: TableRows[] = [];
  for (const table of tables) {
    const { rows: cols } = await db.query<{ column_name: string; data_type: string }>(
      `select column_name, data_type from information_schema.columns where table_schema = $1 and table_name = $2 order by ordinal_position`,
      [schema, table],
    );
    const columns = cols.map((c) => ({
      name: c.column_name,
      json: c.data_type === 'jsonb' || c.data_type === 'json',
    }));
    const { rows } = await db.query<unknown[]>({
      text: `select ${columns.map((c) => quote(c.name)).join(', ')} from ${quote(schema)}.${quote(table)}`,
      rowMode: 'array',
    });
    // jsonb comes back parsed; as a parameter it must be JSON text again (pg would turn arrays into Postgres arrays).
    const jsonAt = columns.flatMap((c, i) => (c.json ? [i] : []));
    for (const row of rows) for (const i of jsonAt) row[i] = row[i] === null ? null : JSON.stringify(row[i]);
    result.push({ table, columns, rows });
  }
  return result;
}

/** The parallelism of a writer: Postgres connections in use at once and the partitions the rows are split into. */
export interface Parallelism {
  readonly connections: number;
  readonly partitions: number;
}

/** A stable 32-bit FNV-1a hash of the key, modulo the partitions (the spread matters, not Kafka's exact murmur2). */
export function partitionOfKey(key: string, partitions: number): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    hash ^= key.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash % partitions;
}

/** One multi-row INSERT of the baseline: a table and the rows it writes. */
export interface Statement {
  readonly table: string;
  readonly rows: readonly unknown[][];
}

/**
 * The baseline's statements per partition. A row's partition comes from its first two columns (tenant, then the
 * chat, customer, agent or ticket id: for the chat tables the chat-events topic's key `<tenant>|<chat_id>`), so all
 * rows of a chat land in one partition as its events do; within a partition, tables in order, `rowsPerStatement`
 * rows per statement (fewer for wide tables: Postgres takes at most 65,535 parameters). Pure.
 */
export function planStatements(
  tables: readonly TableRows[],
  rowsPerStatement: number,
  partitions: number,
): Statement[][] {
  const plan: Statement[][] = Array.from({ length: partitions }, () => []);
  for (const { table, columns, rows } of tables) {
    const perStatement = Math.max(1, Math.min(rowsPerStatement, Math.floor(65_535 / columns.length)));
    const byPartition: unknown[][][] = Array.from({ length: partitions }, () => []);
    for (const row of rows)
      byPartition[partitionOfKey(`${String(row[0])}|${String(row[1])}`, partitions)]!.push(row);
    byPartition.forEach((partRows, p) => {
      for (let start = 0; start < partRows.length; start += perStatement)
        plan[p]!.push({ table, rows: partRows.slice(start, start + perStatement) });
    });
  }
  return plan;
}

/**
 * Which partitions each connection writes, one after the other: partition p goes to connection p mod connections.
 * With as many connections as partitions each writes one; connections beyond the partitions stay idle, as a
 * consumer's pool beyond its partitions does. Pure.
 */
export function streamsOf(parallelism: Parallelism): number[][] {
  const streams: number[][] = Array.from(
    { length: Math.min(parallelism.connections, parallelism.partitions) },
    () => [],
  );
  for (let p = 0; p < parallelism.partitions; p++) streams[p % streams.length]!.push(p);
  return streams;
}

/**
 * The baseline: the same rows written with plain multi-row INSERT statements (`rowsPerStatement` rows each,
 * parameters, autocommit, no ON CONFLICT, no dedup, no offsets) into empty tables of the same definition (indexes
 * and primary keys included), with the projection's parallelism: the rows split into its partitions, written over
 * as many connections as its pool holds (streamsOf). The connections are opened before the timer; only the INSERTs
 * are timed.
 */
export async function insertPlain(
  db: pg.Pool,
  schema: string,
  tables: readonly TableRows[],
  rowsPerStatement: number,
  parallelism: Parallelism,
): Promise<InsertStats & { readonly connectionsUsed: number }> {
  const plan = planStatements(tables, rowsPerStatement, parallelism.partitions);
  const streams = streamsOf(parallelism);
  const heads = new Map(
    tables.map(({ table, columns }) => [
      table,
      `insert into ${quote(schema)}.${quote(table)} (${columns.map((c) => quote(c.name)).join(', ')}) values `,
    ]),
  );
  const clients = await Promise.all(streams.map(() => db.connect()));
  let statements = 0;
  try {
    const started = performance.now();
    await Promise.all(
      streams.map(async (partitions, i) => {
        const client = clients[i]!;
        for (const p of partitions)
          for (const { table, rows } of plan[p]!) {
            const tuples: string[] = [];
            const params: unknown[] = [];
            for (const row of rows) {
              const base = params.length;
              tuples.push(`(${row.map((_, j) => `$${base + j + 1}`).join(', ')})`);
              params.push(...row);
            }
            await client.query(heads.get(table)! + tuples.join(', '), params);
            statements += 1;
          }
      }),
    );
    const seconds = (performance.now() - started) / 1000;
    const perTable = new Map(tables.map((t) => [t.table, t.rows.length]));
    const rows = tables.reduce((n, t) => n + t.rows.length, 0);
    return { rows, statements, seconds, perTable, connectionsUsed: streams.length };
  } finally {
    for (const client of clients) client.release();
  }
}

/** The projection's tables (base tables, not views; not the runtime's `_…` bookkeeping). */
export async function projectionTables(db: pg.Pool, schema: string): Promise<string[]> {
  const { rows } = await db.query<{ table_name: string }>(
    `select table_name from information_schema.tables
     where table_schema = $1 and table_type = 'BASE TABLE' and left(table_name, 1) <> '_'
     order by table_name`,
    [schema],
  );
  return rows.map((r) => r.table_name);
}
