/**
 * Sealing cost: `sealChatEvent` / `openChatEvent` per chat-event type and `sealRawBody` / `openRawBody` for raw
 * bodies, over every webhook of packages/livechat's fixtures (single and traffic), in µs per operation, next to a
 * baseline measured in the same run: the Avro encode (`toBuffer`) of the same plain event or record. A ratio of 0.5
 * means sealing costs half an Avro encode. Not a test; no stack needed. Every event is sealed and opened once first
 * (JIT warm-up over all types), then each type is measured.
 *
 *   pnpm --filter @livechat-pipeline/events exec tsx bench/sealing.bench.ts [milliseconds per case]
 */
import { randomBytes } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseWebhook } from '@livechat-pipeline/livechat';
import type { ChatDomainEvent } from '@livechat-pipeline/livechat';
import { ChatKey } from '@livechat-pipeline/privacy';
import type { ChatKeyState } from '@livechat-pipeline/privacy';
import { chatEventSchema } from '../src/chat-event.js';
import { rawWebhookSchema } from '../src/raw-webhook.js';
import type { RawWebhook } from '../src/raw-webhook.js';
import { chatEventKeyScope, openChatEvent, sealChatEvent } from '../src/sealed-chat-event.js';
import { openRawBody, sealRawBody } from '../src/sealed-raw-webhook.js';

const millis = Number(process.argv[2] ?? 300);
const fixtures = fileURLToPath(new URL('../../livechat/test/fixtures/', import.meta.url));

/** Every webhook body of the fixtures, as received. */
function bodies(): string[] {
  const single = readdirSync(`${fixtures}single`)
    .filter((name) => name.endsWith('.json'))
    .sort()
    .map((name) => JSON.stringify(JSON.parse(readFileSync(`${fixtures}single/${name}`, 'utf8'))));
  const traffic = readdirSync(`${fixtures}traffic`)
    .filter((name) => name.endsWith('.jsonl'))
    .sort()
    .flatMap((name) =>
      readFileSync(`${fixtures}traffic/${name}`, 'utf8')
        .split('\n')
        .filter((line) => line.trim() !== ''),
    );
  return [...single, ...traffic];
}

/**
 * µs of one call of `run` over `items`: the fastest of 5 slices of about `millis` / 5 ms each, after a warm-up. The
 * fastest slice, not the mean: on a shared, loaded machine the slower slices measure the other processes.
 */
function microsPerOp<T>(items: readonly T[], run: (item: T) => unknown): number {
  const deadline = (ms: number) => process.hrtime.bigint() + BigInt(Math.round(ms * 1_000_000));
  for (const end = deadline(Math.max(100, millis / 2)); process.hrtime.bigint() < end;)
    for (const item of items) run(item);
  let best = Infinity;
  for (let slice = 0; slice < 5; slice++) {
    let ops = 0;
    const start = process.hrtime.bigint();
    for (const end = deadline(millis / 5); process.hrtime.bigint() < end;) {
      for (const item of items) run(item);
      ops += items.length;
    }
    best = Math.min(best, Number(process.hrtime.bigint() - start) / 1_000 / ops);
  }
  return best;
}

const chatType = chatEventSchema().type;
const rawType = rawWebhookSchema().type;
const keys = new Map<string, ChatKey>();
const keyOf = (tenant: string, scope: string): ChatKey => {
  const id = `${tenant}\n${scope}`;
  let key = keys.get(id);
  if (key === undefined) keys.set(id, (key = new ChatKey(tenant, scope, 1, randomBytes(32))));
  return key;
};
const stateOf = (key: ChatKey): ChatKeyState => ({ state: 'active', key });

const received = bodies();
const events: ChatDomainEvent[] = received.flatMap((body, i) => {
  try {
    return parseWebhook(JSON.parse(body) as unknown, {
      rawEventId: `raw-${i}`,
      receivedAtMicros: 1_800_000_000_000_000 + i,
      tenantHint: 'tenant-bench',
    });
  } catch {
    return [];
  }
});

const byType = new Map<string, ChatDomainEvent[]>();
for (const event of events) byType.set(event.type, [...(byType.get(event.type) ?? []), event]);

const fmt = (us: number): string => us.toFixed(2).padStart(8);
process.stdout.write(
  `${received.length} webhook bodies, ${events.length} chat events; ${millis} ms per case; µs per op (fastest of 5 slices)\n` +
    `${'type'.padEnd(24)} ${'n'.padStart(5)} ${'avro'.padStart(8)} ${'seal'.padStart(8)} ${'open'.padStart(8)}` +
    `  seal/avro open/avro\n`,
);

// Warm-up over every type at once, so the first type measured does not pay for compiling the shared code.
for (const end = process.hrtime.bigint() + 1_000_000_000n; process.hrtime.bigint() < end;)
  for (const event of events) {
    const scope = chatEventKeyScope(event);
    if (scope !== null)
      openChatEvent(
        sealChatEvent(event, scope, keyOf(event.tenant, scope)),
        stateOf(keyOf(event.tenant, scope)),
      );
  }

const totals = { avro: 0, seal: 0, open: 0, n: 0 };
for (const [type, list] of [...byType].sort(([a], [b]) => a.localeCompare(b))) {
  const cases = list.map((event) => {
    const scope = chatEventKeyScope(event);
    const key = scope === null ? undefined : keyOf(event.tenant, scope);
    const sealed = scope === null || key === undefined ? event : sealChatEvent(event, scope, key);
    // Opened as a consumer reads it: through Avro (the envelope a Buffer).
    const read = chatType.fromBuffer(chatType.toBuffer(sealed)) as ChatDomainEvent;
    return { event, scope, key, read, state: key === undefined ? undefined : stateOf(key) };
  });
  const avro = microsPerOp(cases, (c) => chatType.toBuffer(c.event));
  const seal = microsPerOp(cases, (c) =>
    c.scope === null || c.key === undefined ? c.event : sealChatEvent(c.event, c.scope, c.key),
  );
  const open = microsPerOp(cases, (c) => openChatEvent(c.read, c.state));
  totals.avro += avro * list.length;
  totals.seal += seal * list.length;
  totals.open += open * list.length;
  totals.n += list.length;
  process.stdout.write(
    `${type.padEnd(24)} ${String(list.length).padStart(5)} ${fmt(avro)} ${fmt(seal)} ${fmt(open)}` +
      `  ${(seal / avro).toFixed(2).padStart(9)} ${(open / avro).toFixed(2).padStart(9)}\n`,
  );
}
const mean = (sum: number) => sum / totals.n;
process.stdout.write(
  `${'all events (weighted)'.padEnd(24)} ${String(totals.n).padStart(5)} ${fmt(mean(totals.avro))} ` +
    `${fmt(mean(totals.seal))} ${fmt(mean(totals.open))}  ${(totals.seal / totals.avro).toFixed(2).padStart(9)} ` +
    `${(totals.open / totals.avro).toFixed(2).padStart(9)}\n`,
);

const rawKey = keyOf('tenant-bench', 'C-bench');
const records: RawWebhook[] = received.map((body, i) => ({
  event_id: `raw-${i}`,
  received_at: 1_800_000_000_000_000 + i,
  format: 'v3',
  api_version: '3.6',
  action: 'incoming_event',
  tenant: 'tenant-bench',
  tenant_source: 'body',
  chat_id: 'C-bench',
  thread_id: null,
  webhook_id: null,
  body,
  content_length: body.length,
  user_agent: 'bench',
  remote_address: '127.0.0.1',
}));
const sealedRecords = records.map(
  (record) => rawType.fromBuffer(rawType.toBuffer(sealRawBody(record, 'C-bench', rawKey))) as RawWebhook,
);
const rawState = stateOf(rawKey);
const rawAvro = microsPerOp(records, (record) => rawType.toBuffer(record));
const rawSeal = microsPerOp(records, (record) => sealRawBody(record, 'C-bench', rawKey));
const rawOpen = microsPerOp(sealedRecords, (record) => openRawBody(record, rawState));
const meanBytes = Math.round(received.reduce((sum, body) => sum + body.length, 0) / received.length);
process.stdout.write(
  `${`raw body (~${meanBytes} B)`.padEnd(24)} ${String(records.length).padStart(5)} ${fmt(rawAvro)} ${fmt(rawSeal)} ` +
    `${fmt(rawOpen)}  ${(rawSeal / rawAvro).toFixed(2).padStart(9)} ${(rawOpen / rawAvro).toFixed(2).padStart(9)}\n`,
);
