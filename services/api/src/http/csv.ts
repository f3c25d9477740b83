import { Readable } from 'node:stream';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ApiError } from '../errors.js';

/**
 * Which representation the client asked for: CSV when `Accept` names text/csv before any JSON range (list
 * endpoints only), JSON when it names application/json, application/* or * / *, or nothing; else 406.
 */
export function wantsCsv(request: FastifyRequest, csvAllowed: boolean): boolean {
  const ranges = (request.headers.accept ?? '')
    .toLowerCase()
    .split(',')
    .map((r) => r.split(';')[0]!.trim())
    .filter((r) => r !== '');
  if (ranges.length === 0) return false;
  const csv = ranges.indexOf('text/csv');
  const json = ranges.findIndex((r) => r === 'application/json' || r === 'application/*' || r === '*/*');
  if (csvAllowed && csv >= 0 && (json < 0 || csv < json)) return true;
  if (json >= 0) return false;
  throw new ApiError(
    'API_NOT_ACCEPTABLE',
    `Accept must allow application/json${csvAllowed ? ' or text/csv' : ''}`,
  );
}

/** One CSV field (RFC 4180); a leading = + - @ is prefixed with ' so spreadsheets do not run it as a formula. */
export function csvField(value: unknown): string {
  if (value === null || value === undefined) return '';
  // every string cell and every element of a list is defused (a joined list starts with its first element);
  // numbers such as -3 are data, not formulas
  const defuse = (t: string): string => (/^[=+\-@\t\r]/.test(t) ? `'${t}` : t);
  let text: string;
  if (Array.isArray(value)) text = value.map((v) => defuse(String(v))).join(';');
  else if (typeof value === 'object') text = JSON.stringify(value);
  else text = typeof value === 'string' ? defuse(value) : String(value);
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

/**
 * Streams rows as CSV: the header, then each batch as it is read (the caller pages through Postgres), so the
 * memory held is one batch whatever the number of rows.
 */
export function sendCsv<Row>(
  reply: FastifyReply,
  filename: string,
  columns: readonly { readonly name: string; readonly value: (row: Row) => unknown }[],
  batches: AsyncIterable<readonly Row[]>,
): FastifyReply {
  async function* lines(): AsyncGenerator<string> {
    yield `${columns.map((c) => c.name).join(',')}\r\n`;
    for await (const batch of batches) {
      let chunk = '';
      for (const row of batch) chunk += `${columns.map((c) => csvField(c.value(row))).join(',')}\r\n`;
      if (chunk !== '') yield chunk;
    }
  }
  return reply
    .type('text/csv; charset=utf-8')
    .header('content-disposition', `attachment; filename="${filename}"`)
    .send(Readable.from(lines(), { objectMode: false }));
}
