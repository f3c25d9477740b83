import { z } from 'zod';

const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})$/;

/** An RFC 3339 date-time with an offset (`2026-11-01T00:00:00Z`); fastify's ajv checks `format: date-time` first. */
export const dateTimeParam = z
  .string()
  .max(40)
  .refine(
    (v) => RFC3339.test(v) && !Number.isNaN(Date.parse(v)),
    'must be an RFC 3339 date-time, e.g. 2026-11-01T00:00:00Z',
  )
  .meta({ format: 'date-time' });
/** Times in answers: RFC 3339, UTC, up to microseconds. */
export const timestamp = z.string().describe('RFC 3339, UTC');

/** Epoch microseconds of an RFC 3339 time (µs precision kept from the fraction). */
export function rfc3339ToMicros(value: string): number {
  const match = /\.(\d+)/.exec(value);
  const fraction = match ? match[1]!.padEnd(6, '0').slice(0, 6) : '000000';
  const ms = Date.parse(value.replace(/\.\d+/, ''));
  return Math.floor(ms / 1000) * 1_000_000 + Number(fraction);
}

export const chatSummary = z.object({
  chat_id: z.string(),
  started_at: timestamp.nullable().describe('Start of the first thread'),
  ended_at: timestamp.nullable().describe('When the last thread closed; null while a thread is open'),
  customer: z
    .object({ id: z.string(), name: z.string().nullable(), email: z.string().nullable() })
    .nullable(),
  agent_ids: z.array(z.string()),
  group_ids: z.array(z.number().int()),
  tags: z.array(z.string()),
  message_count: z
    .number()
    .int()
    .describe('Customer and agent messages, files and rich messages not deleted'),
  thread_count: z.number().int(),
});

export const chatPage = z.object({
  chats: z.array(chatSummary),
  next_cursor: z.string().nullable().describe('Pass as `cursor` for the next page; null on the last page'),
});
