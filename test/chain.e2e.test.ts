import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { simulateTraffic, type ExpectedChat } from '@livechat-pipeline/traffic-simulator';
import { rebuild } from '@livechat-pipeline/postgres-consumer';
import { transcriptsConsumer } from '@livechat-pipeline/transcripts';
import { readTopic, testKafka, uniqueName, waitFor } from '@livechat-pipeline/testkit';
import {
  E2E_BASIC_PASSWORD,
  E2E_BASIC_USER,
  E2E_SECRET_KEY,
  postDeliveries,
  startChain,
  type RunningChain,
} from './support/chain.js';
import { logLinesWithSecrets, scanDatabaseForSecrets } from './support/secret-scan.js';

/**
 * LiveChat webhook → ingest (HTTP) → raw topic → normalizer → chat-events topic → transcripts →
 * Postgres views, on the real stack, with simulated traffic in both formats (retried duplicates,
 * local reordering, interleaved chats); then a rebuild of the projection gives identical views.
 */
const CHATS_PER_FORMAT = 100;
const V2_TOKEN = 'v2-token-CANARY-e2e-0123456789abcdef';

let chain: RunningChain;
let pool: pg.Pool;
let schema: string;

beforeAll(async () => {
  chain = await startChain();
  schema = chain.transcriptsConfig.schema;
  pool = new pg.Pool({ connectionString: chain.databaseUrl, max: 4 });
});
afterAll(async () => {
  await pool?.end();
  await chain?.close();
});

const messageCount = (chats: readonly ExpectedChat[]) => chats.reduce((n, c) => n + c.messages.length, 0);

async function viewsChecksum(): Promise<{ transcript: string; summary: string; rows: number }> {
  const t = await pool.query<{ md5: string; n: number }>(
    `select md5(coalesce(string_agg(t::text, '|' order by t.tenant, t.chat_id, t.thread_id, t.event_id), '')) as md5, count(*)::int as n from "${schema}".chat_transcript t`,
  );
  const s = await pool.query<{ md5: string }>(
    `select md5(coalesce(string_agg(t::text, '|' order by t.tenant, t.chat_id), '')) as md5 from "${schema}".chat_summary t`,
  );
  return { transcript: t.rows[0]!.md5, summary: s.rows[0]!.md5, rows: t.rows[0]!.n };
}

describe('the whole chain on the real stack', () => {
  it('turns simulated v3.6 and v2 traffic into correct transcripts, and a rebuild reproduces them exactly', async () => {
    const v3 = simulateTraffic({
      seed: 101,
      chats: CHATS_PER_FORMAT,
      format: 'v3',
      duplicateRate: 0.15,
      reorderRate: 0.15,
      secretKey: E2E_SECRET_KEY,
    });
    const v2 = simulateTraffic({
      seed: 202,
      chats: CHATS_PER_FORMAT,
      format: 'v2',
      duplicateRate: 0.15,
      reorderRate: 0.15,
      v2Token: V2_TOKEN,
    });
    // Interleave the two streams, as two kinds of LiveChat accounts posting at once.
    const bodies: { body: Record<string, unknown>; chatId: string }[] = [];
    for (let i = 0; i < Math.max(v3.deliveries.length, v2.deliveries.length); i++) {
      for (const d of [v3.deliveries[i], v2.deliveries[i]]) {
        if (d)
          bodies.push({
            body: d.body as unknown as Record<string, unknown>,
            chatId: `${d.format}/${d.chatId}`,
          });
      }
    }
    const expectedMessages = messageCount(v3.expected) + messageCount(v2.expected);

    const started = performance.now();
    const { statuses, lastOkAt } = await postDeliveries(chain.ingestUrl, bodies);
    expect(statuses.every((s) => s === 200)).toBe(true);
    await waitFor(
      async () => {
        const { rows } = await pool.query<{ n: number }>(
          `select count(*)::int as n from "${schema}".chat_transcript where kind = 'message'`,
        );
        return rows[0]!.n >= expectedMessages ? rows[0]!.n : undefined;
      },
      { timeoutMs: 90_000, intervalMs: 50, message: `${expectedMessages} transcript messages` },
    );
    const visibleAt = performance.now();
    const chatEvents = await chatEventCount(chain.topics.chatEvents);
    const seconds = (visibleAt - started) / 1000;
    // Figures for the issue note.
    process.stdout.write(
      `e2e: ${bodies.length} webhooks (${chatEvents} chat events) in ${seconds.toFixed(2)} s = ${(bodies.length / seconds).toFixed(0)} webhooks/s, ` +
        `${(chatEvents / seconds).toFixed(0)} chat events/s; last 200 → last row visible: ${(visibleAt - lastOkAt).toFixed(0)} ms\n`,
    );

    for (const chat of v3.expected) await expectChat(chat, 'v3');
    for (const chat of v2.expected) await expectChat(chat, 'v2');

    // Secrets never reach Postgres, the logs or the topics.
    await expectNoSecretsAnywhere([
      E2E_SECRET_KEY,
      E2E_BASIC_PASSWORD,
      V2_TOKEN,
      Buffer.from(`${E2E_BASIC_USER}:${E2E_BASIC_PASSWORD}`).toString('base64'),
    ]);

    // Rebuild the projection from the topic: the views' contents must be identical.
    const before = await viewsChecksum();
    expect(before.rows).toBeGreaterThanOrEqual(expectedMessages);
    await chain.stopTranscripts();
    const result = await rebuild(transcriptsConsumer(chain.transcriptsConfig), {
      kafka: testKafka('e2e-rebuild'),
      databaseUrl: chain.databaseUrl,
      onEvent: () => undefined,
    });
    expect(result.total).toBe(chatEvents);
    expect(await viewsChecksum()).toEqual(before);
  });
});

/**
 * Every text/json/bytea column of every table of every schema of every database the services use, every
 * service's log and every topic of the chain: no canary anywhere. A probe planted in a table of its own
 * proves the database scan finds what it looks for.
 */
async function expectNoSecretsAnywhere(canaries: readonly string[]): Promise<void> {
  const probeSchema = uniqueName('e2e_probe').replace(/[^a-z0-9_]/g, '_');
  const probe = `scan-probe-${probeSchema}`;
  await pool.query(
    `create schema "${probeSchema}"; create table "${probeSchema}".planted (id int, doc jsonb, note text[], raw bytea)`,
  );
  try {
    await pool.query(`insert into "${probeSchema}".planted values (1, $1::jsonb, $2::text[], $3)`, [
      JSON.stringify({ deep: { secret: probe } }),
      ['x', probe],
      Buffer.from(`..${probe}..`),
    ]);
    for (const url of chain.databaseUrls) {
      const scan = await scanDatabaseForSecrets(url, [...canaries, probe]);
      const probeHits = scan.hits.filter((h) => h.table === `${probeSchema}.planted`).map((h) => h.column);
      expect(probeHits.sort(), 'the planted probe is found in every kind of column').toEqual([
        'doc',
        'note',
        'raw',
      ]);
      // The projection's tables and the runtime's bookkeeping were among those scanned.
      for (const table of ['entries', 'chats', 'threads', 'customers', '_dedup', '_offsets'])
        expect(scan.tables).toContain(`${schema}.${table}`);
      expect
        .soft(
          scan.hits
            .filter((h) => h.table !== `${probeSchema}.planted`)
            .map((h) => `${h.database}: ${h.table}.${h.column} (${h.rows} rows)`),
          `canaries in ${url.replace(/\/\/[^@]*@/, '//')}`,
        )
        .toEqual([]);
    }
  } finally {
    await pool.query(`drop schema "${probeSchema}" cascade`);
  }

  for (const [service, lines] of Object.entries(chain.logs)) {
    expect(lines.length, `${service} logged something`).toBeGreaterThan(0);
    const leakingLines = logLinesWithSecrets(lines, canaries);
    expect
      .soft(
        leakingLines.length === 0
          ? []
          : [`${leakingLines.length} of ${lines.length} lines, e.g.`, ...leakingLines.slice(0, 3)],
        `${service} log lines with a secret`,
      )
      .toEqual([]);
  }

  for (const topic of Object.values(chain.topics)) {
    const records = await readTopic(topic);
    const leaking = records.filter((r) =>
      canaries.some(
        (c) =>
          r.value?.includes(c) === true ||
          r.key?.includes(c) === true ||
          Object.values(r.headers ?? {}).some((h) => h?.toString().includes(c)),
      ),
    );
    expect
      .soft(
        leaking.length === 0
          ? []
          : [
              `${leaking.length} of ${records.length} records, e.g.`,
              ...leaking.slice(0, 3).map((r) => `${r.partition}:${r.offset}`),
            ],
        `records of ${topic} with a secret`,
      )
      .toEqual([]);
  }
}

async function expectChat(chat: ExpectedChat, format: 'v2' | 'v3'): Promise<void> {
  const tenant = format === 'v3' ? chat.tenant.organizationId : chat.tenant.licenseId;
  const { rows } = await pool.query<{
    text: string;
    author_type: string;
    visibility: string;
    created_us: string;
  }>(
    `select text, author_type, visibility, created_us::text from "${schema}".chat_transcript
     where tenant = $1 and chat_id = $2 and kind = 'message' order by position`,
    [tenant, chat.chatId],
  );
  const context = `${format} chat ${chat.chatId}`;
  expect(
    rows.map((r) => r.text),
    context,
  ).toEqual(chat.messages.map((m) => m.text));
  expect(
    rows.map((r) => r.author_type),
    context,
  ).toEqual(chat.messages.map((m) => m.authorKind));
  expect(
    rows.map((r) => r.visibility),
    context,
  ).toEqual(chat.messages.map((m) => m.visibility));
  if (format === 'v3') {
    expect(
      rows.map((r) => r.created_us),
      context,
    ).toEqual(chat.messages.map((m) => micros(m.createdAt)));
  } else {
    expect(
      rows.map((r) => String(BigInt(r.created_us) / 1_000_000n)),
      context,
    ).toEqual(chat.messages.map((m) => String(m.createdAtEpochSeconds)));
  }
  const summary = await pool.query(
    `select tags, customer_email, created_us_of_start from (
       select tags, customer_email, ((extract(epoch from started_at) * 1000000)::bigint)::text as created_us_of_start
       from "${schema}".chat_summary where tenant = $1 and chat_id = $2) s`,
    [tenant, chat.chatId],
  );
  expect(summary.rows, context).toEqual([
    {
      tags: [...chat.tags],
      customer_email: chat.customerEmail,
      created_us_of_start:
        format === 'v3' ? micros(chat.startedAt) : String(BigInt(chat.startedAtEpochSeconds) * 1_000_000n),
    },
  ]);
}

/** RFC 3339 with microseconds → epoch microseconds, exactly. */
function micros(rfc3339: string): string {
  const match = /\.(\d{6})Z$/.exec(rfc3339);
  const whole = BigInt(Date.parse(rfc3339.replace(/\.\d+Z$/, 'Z')));
  return String(whole * 1000n + BigInt(match?.[1] ?? '0'));
}

async function chatEventCount(topic: string): Promise<number> {
  const admin = testKafka('e2e-admin').admin();
  await admin.connect();
  try {
    const offsets = await admin.fetchTopicOffsets(topic);
    return offsets.reduce((n, o) => n + Number(o.high) - Number(o.low), 0);
  } finally {
    await admin.disconnect();
  }
}
