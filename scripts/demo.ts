/**
 * `npm start -- --demo`: posts simulated LiveChat traffic (v3.6 and v2, with retried duplicates and
 * reordering) to the running ingest, waits until the transcripts projection shows it, and prints a
 * few rows of the views data teams query.
 */
import pg from 'pg';
import { simulateTraffic, type ExpectedChat } from '@livechat-pipeline/traffic-simulator';

export interface DemoOptions {
  readonly ingestUrl: string;
  /** The ingest's readiness URL, on its operations port (not the webhook port). */
  readonly ingestReadyUrl: string;
  readonly databaseUrl: string;
  readonly secretKey: string;
  readonly basicAuth: string;
  readonly schema: string;
  /** With `--hubspot-fake`: the fake HubSpot whose contacts and notes the demo prints once crm-sync made them. */
  readonly hubspotFakeUrl?: string;
  readonly say: (line: string) => void;
}

async function waitForHttp(url: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const ok = await fetch(url).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${url} did not become ready within ${timeoutMs} ms`);
}

export async function runDemo(options: DemoOptions): Promise<void> {
  await waitForHttp(options.ingestReadyUrl, 60_000);
  const seed = Date.now() % 1_000_000;
  // Simulated chats last up to about half an hour: start them early enough to have ended by now.
  const startAt = new Date(Date.now() - 45 * 60_000);
  const v3 = simulateTraffic({ seed, chats: 4, format: 'v3', secretKey: options.secretKey, startAt });
  const v2 = simulateTraffic({ seed: seed + 1, chats: 3, format: 'v2', startAt });
  const deliveries = [...v3.deliveries, ...v2.deliveries];
  const basic = `Basic ${Buffer.from(options.basicAuth).toString('base64')}`;
  options.say(
    `demo: posting ${deliveries.length} simulated webhooks (7 chats; v3.6 and v2; duplicates and reordering included)…`,
  );
  const statuses = new Map<number, number>();
  for (const delivery of deliveries) {
    const body = delivery.body as unknown as Record<string, unknown>;
    const response = await fetch(`${options.ingestUrl}/webhooks/livechat`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        ...(delivery.format === 'v2' ? { authorization: basic } : {}),
      },
      body: JSON.stringify(body),
    });
    await response.arrayBuffer();
    statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1);
  }
  options.say(`demo: ingest answered ${[...statuses].map(([s, n]) => `${n} × ${s}`).join(', ')}`);

  const expected: { tenant: string; chat: ExpectedChat }[] = [
    ...v3.expected.map((chat) => ({ tenant: chat.tenant.organizationId, chat })),
    ...v2.expected.map((chat) => ({ tenant: chat.tenant.licenseId, chat })),
  ];
  const wanted = expected.reduce((n, e) => n + e.chat.messages.length, 0);
  const client = new pg.Client({ connectionString: options.databaseUrl });
  await client.connect();
  try {
    const s = `"${options.schema}"`;
    const tenants = expected.map((e) => e.tenant);
    const chatIds = expected.map((e) => e.chat.chatId);
    const deadline = Date.now() + 60_000;
    let seen = 0;
    while (Date.now() < deadline) {
      const { rows } = await client
        .query<{ n: number }>(
          `select count(*)::int as n from ${s}.chat_transcript t
           join unnest($1::text[], $2::text[]) as d(tenant, chat_id) using (tenant, chat_id) where t.kind = 'message'`,
          [tenants, chatIds],
        )
        .catch(() => ({ rows: [{ n: 0 }] }));
      seen = rows[0]?.n ?? 0;
      if (seen >= wanted) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    options.say(`demo: ${seen} of ${wanted} messages are in ${options.schema}.chat_transcript`);
    const summary = await client.query(
      `select chat_id, started_at, ended_at, customer_email, tags, message_count, agent_ids
       from ${s}.chat_summary join unnest($1::text[], $2::text[]) as d(tenant, chat_id) using (tenant, chat_id) order by started_at`,
      [tenants, chatIds],
    );
    printTable(`select … from ${options.schema}.chat_summary`, summary.rows);
    const first = expected[0]!;
    const transcript = await client.query(
      `select position, author_type, visibility, kind, left(text, 60) as text, created_at
       from ${s}.chat_transcript where tenant = $1 and chat_id = $2 order by position limit 8`,
      [first.tenant, first.chat.chatId],
    );
    printTable(
      `select … from ${options.schema}.chat_transcript where chat_id = '${first.chat.chatId}'`,
      transcript.rows,
    );
    options.say(
      `demo: query them yourself: psql ${options.databaseUrl} -c 'select * from ${options.schema}.chat_summary'`,
    );
  } finally {
    await client.end();
  }
  if (options.hubspotFakeUrl !== undefined)
    await printHubSpot(options.hubspotFakeUrl, expected.length, options.say);
}

/** The contacts and notes crm-sync created in the fake HubSpot (its inspection API). */
async function printHubSpot(url: string, threads: number, say: (line: string) => void): Promise<void> {
  const read = async <T>(path: string): Promise<T[]> =>
    fetch(`${url}${path}`).then(
      async (r) => (await r.json()) as T[],
      () => [],
    );
  type Note = { id: string; properties: Record<string, string>; contactIds: string[] };
  const deadline = Date.now() + 60_000;
  let notes: Note[] = [];
  while (Date.now() < deadline && (notes = await read<Note>('/__fake/notes')).length < threads)
    await new Promise((r) => setTimeout(r, 250));
  const contacts = await read<{ id: string; properties: Record<string, string> }>('/__fake/contacts');
  say(
    `demo: crm-sync made ${contacts.length} contacts and ${notes.length} notes (one per thread) in the fake HubSpot`,
  );
  printTable(
    'fake HubSpot contacts',
    contacts.map((c) => ({
      id: c.id,
      email: c.properties['email'],
      firstname: c.properties['firstname'],
      lastname: c.properties['lastname'],
    })),
  );
  printTable(
    'fake HubSpot notes',
    notes.map((n) => ({
      id: n.id,
      contact: n.contactIds.join(','),
      hs_timestamp: n.properties['hs_timestamp'],
      chars: n.properties['hs_note_body']?.length ?? 0,
      body: (n.properties['hs_note_body'] ?? '').replace(/<[^>]+>/g, ' ').slice(0, 90),
    })),
  );
}

export function printTable(title: string, rows: readonly Record<string, unknown>[]): void {
  const cell = (v: unknown) =>
    v === null || v === undefined
      ? ''
      : v instanceof Date
        ? v.toISOString()
        : Array.isArray(v)
          ? `{${v.join(',')}}`
          : String(v).replace(/\s+/g, ' ');
  const headers = Object.keys(rows[0] ?? {});
  const widths = headers.map((h) => Math.max(h.length, ...rows.map((r) => cell(r[h]).length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ');
  process.stdout.write(`\n${title}\n${line(headers)}\n${widths.map((w) => '-'.repeat(w)).join('-+-')}\n`);
  for (const row of rows) process.stdout.write(`${line(headers.map((h) => cell(row[h])))}\n`);
  process.stdout.write(`(${rows.length} rows)\n`);
}
