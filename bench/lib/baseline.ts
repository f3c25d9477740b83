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

/**
 * The baseline: the same rows written with plain multi-row INSERT statements (`rowsPerStatement` rows
 * each, parameters, autocommit, one connection, no ON CONFLICT, no dedup, no offsets) into empty tables
 * of the same definition (indexes and primary keys included). Only the INSERTs are timed.
 */
export async function insertPlain(
  db: pg.Pool,
  schema: string,
  tables: readonly TableRows[],
  rowsPerStatement: number,
): Promise<InsertStats> {
  const client = await db.connect();
  const perTable = new Map<string, number>();
  let rows = 0;
  let statements = 0;
  try {
    const started = performance.now();
    for (const { table, columns, rows: data } of tables) {
      const head = `insert into ${quote(schema)}.${quote(table)} (${columns.map((c) => quote(c.name)).join(', ')}) values `;
      const width = columns.length;
      const perStatement = Math.max(1, Math.min(rowsPerStatement, Math.floor(65_535 / width)));
      for (let start = 0; start < data.length; start += perStatement) {
        const chunk = data.slice(start, start + perStatement);
        const tuples: string[] = [];
        const params: unknown[] = [];
        for (const row of chunk) {
          const base = params.length;
          tuples.push(`(${row.map((_, i) => `$${base + i + 1}`).join(', ')})`);
          params.push(...row);
        }
        await client.query(head + tuples.join(', '), params);
        statements += 1;
      }
      perTable.set(table, data.length);
      rows += data.length;
    }
    return { rows, statements, seconds: (performance.now() - started) / 1000, perTable };
  } finally {
    client.release();
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
