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
export const timestamp = z.string().meta({ format: 'date-time' }).describe('RFC 3339, UTC');

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

export const transcriptEntry = z.object({
  position: z.number().int().describe("The entry's place in its chat, from 1"),
  event_id: z.string(),
  author: z.object({
    type: z.enum(['customer', 'agent', 'system']),
    id: z.string().nullable(),
    name: z.string().nullable(),
  }),
  visibility: z.string().describe('`all`, or `agents` for an internal note'),
  kind: z.string().describe('`message`, `file`, `rich_message`, `system_message`, `filled_form`, …'),
  text: z.string().nullable().describe("The text (the newest edit); a file's name"),
  file: z
    .object({
      name: z.string().nullable(),
      url: z.string().nullable(),
      content_type: z.string().nullable(),
      size: z.number().nullable(),
    })
    .nullable(),
  created_at: timestamp.nullable(),
  edited_at: timestamp.nullable(),
  deleted_at: timestamp.nullable(),
});

export const rating = z
  .enum(['good', 'bad'])
  .nullable()
  .describe("The customer's rating, null when not rated");

export const chatThread = z.object({
  thread_id: z.string(),
  started_at: timestamp.nullable(),
  closed_at: timestamp.nullable(),
  closed_by: z.string().nullable().describe('`agent`, `customer`, `router`, … (null while open)'),
  queue_wait_seconds: z.number().nullable(),
  tags: z.array(z.string()),
  rating,
  rating_comment: z.string().nullable(),
  entries: z.array(transcriptEntry),
});

export const chatDetail = chatSummary.extend({
  rating: rating.describe('The rating of the newest rated thread'),
  entries_truncated: z
    .boolean()
    .describe(
      'True when the chat has more than 5 000 transcript entries: the first 5 000 (by position) are shown',
    ),
  threads: z.array(chatThread),
});

export const customer = z.object({
  customer_id: z.string(),
  name: z.string().nullable(),
  email: z.string().nullable(),
  session_fields: z.unknown().describe('As LiveChat sent them (JSON), or null'),
  visit: z.unknown().describe('The last visit LiveChat reported (JSON), or null'),
  updated_at: timestamp.nullable(),
  chat_count: z.number().int(),
  first_chat_at: timestamp.nullable(),
  last_chat_at: timestamp.nullable(),
});
