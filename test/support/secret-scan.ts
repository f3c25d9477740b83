import pg from 'pg';

/** A column of a table in which a canary was found. */
export interface SecretHit {
  readonly database: string;
  readonly table: string;
  readonly column: string;
  readonly rows: number;
}

export interface DatabaseScan {
  /** `schema.table` of every base table scanned. */
  readonly tables: readonly string[];
  readonly columns: number;
  readonly hits: readonly SecretHit[];
}

const UNDEFINED_TABLE = '42P01';
const INVALID_SCHEMA = '3F000';

function ident(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/**
 * Looks for each canary in every column that can hold text (text, varchar, char, json, jsonb, xml,
 * arrays, enums and other user-defined types as their text; bytea as bytes) of every base table of
 * every schema of the database (the catalogs excepted), listed through information_schema. Tables
 * dropped while the scan runs (other tests share the database) are left out of the result.
 */
export async function scanDatabaseForSecrets(
  databaseUrl: string,
  canaries: readonly string[],
): Promise<DatabaseScan> {
  if (canaries.length === 0) throw new Error('scanDatabaseForSecrets needs at least one canary');
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  const database = new URL(databaseUrl).pathname.slice(1) || 'postgres';
  try {
    await client.query(`set lock_timeout = '30s'`);
    const { rows: columns } = await client.query<{
      table_schema: string;
      table_name: string;
      column_name: string;
      data_type: string;
    }>(
      `select c.table_schema, c.table_name, c.column_name, c.data_type
       from information_schema.columns c
       join information_schema.tables t on t.table_schema = c.table_schema and t.table_name = c.table_name
       where t.table_type = 'BASE TABLE'
         and c.table_schema not in ('pg_catalog', 'information_schema') and c.table_schema not like 'pg\\_toast%'
       order by c.table_schema, c.table_name, c.ordinal_position`,
    );
    const byTable = new Map<
      string,
      { schema: string; table: string; columns: { name: string; type: string }[] }
    >();
    for (const c of columns) {
      const key = `${c.table_schema}.${c.table_name}`;
      const entry = byTable.get(key) ?? { schema: c.table_schema, table: c.table_name, columns: [] };
      entry.columns.push({ name: c.column_name, type: c.data_type });
      byTable.set(key, entry);
    }

    const textual = new Set([
      'text',
      'character varying',
      'character',
      'json',
      'jsonb',
      'xml',
      'ARRAY',
      'USER-DEFINED',
      'name',
    ]);
    const textParams = canaries.map((_, i) => `$${i + 1}::text`);
    const byteParams = canaries.map((_, i) => `convert_to($${i + 1}::text, 'UTF8')`);
    const tables: string[] = [];
    const hits: SecretHit[] = [];
    let scannedColumns = 0;
    for (const [key, { schema, table, columns: cols }] of byTable) {
      const probes = cols.flatMap((col) => {
        const c = ident(col.name);
        if (textual.has(col.type))
          return [
            {
              col,
              sql: `count(*) filter (where greatest(${textParams.map((p) => `strpos(${c}::text, ${p})`).join(', ')}) > 0)`,
            },
          ];
        if (col.type === 'bytea')
          return [
            {
              col,
              sql: `count(*) filter (where greatest(${byteParams.map((p) => `position(${p} in ${c})`).join(', ')}) > 0)`,
            },
          ];
        return [];
      });
      try {
        if (probes.length > 0) {
          const { rows } = await client.query<Record<string, string>>(
            `select ${probes.map((p, i) => `${p.sql} as c${i}`).join(', ')} from ${ident(schema)}.${ident(table)}`,
            [...canaries],
          );
          probes.forEach((p, i) => {
            const n = Number(rows[0]?.[`c${i}`] ?? 0);
            if (n > 0) hits.push({ database, table: key, column: p.col.name, rows: n });
          });
        }
        tables.push(key);
        scannedColumns += probes.length;
      } catch (error) {
        const code = (error as { code?: string }).code;
        if (code === UNDEFINED_TABLE || code === INVALID_SCHEMA) continue;
        throw error;
      }
    }
    return { tables, columns: scannedColumns, hits };
  } finally {
    await client.end();
  }
}

/** The lines of a captured log that contain a canary, with the canary replaced so the report does not repeat it. */
export function logLinesWithSecrets(lines: readonly string[], canaries: readonly string[]): string[] {
  return lines
    .flatMap((chunk) => chunk.split('\n'))
    .filter((line) => canaries.some((c) => line.includes(c)))
    .map((line) => canaries.reduce((l, c) => l.replaceAll(c, '<CANARY>'), line).slice(0, 300));
}
