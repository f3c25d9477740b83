import { afterEach, describe, expect, it } from 'vitest';
import type { ArchiveRow } from '@livechat-pipeline/livechat-fake';
import { createTopic, readTopic, stackEndpoints, uniqueName } from '@livechat-pipeline/testkit';
import { generateChats, renderArchive } from '@livechat-pipeline/traffic-simulator';
import { ArchiveStore } from '../src/archives/store.js';
import { ORG, connectViaHttp, startAppHarness } from './support/harness.js';
import type { AppHarness } from './support/harness.js';

const CHATS = 120;

function archiveRows(): ArchiveRow[] {
  const chats = generateChats({
    seed: 4242,
    chats: CHATS,
    tenants: [{ organizationId: ORG, licenseId: '104130623' }],
    startAt: new Date(Date.now() - 2 * 86_400_000),
  });
  return renderArchive(chats).map((t) => t.row as unknown as ArchiveRow);
}

async function settingsOf(h: AppHarness, cookie: string | null): Promise<string> {
  const res = await fetch(`${h.baseUrl}/app/settings`, { headers: cookie === null ? {} : { cookie } });
  return res.text();
}

const backfillCell = (html: string) => /<td id="backfill-state"[^>]*>([^<]*)<\/td>/.exec(html)?.[1] ?? '';

describe('the app backfills after an install, per tenant, visible on the settings page', () => {
  let h: AppHarness | undefined;
  afterEach(async () => {
    await h?.close();
    h = undefined;
  });

  const stackEnv = (topic: string) => {
    const stack = stackEndpoints();
    return {
      KAFKA_BROKERS: stack.kafkaBrokers.join(','),
      SCHEMA_REGISTRY_URL: stack.schemaRegistryUrl,
      RAW_WEBHOOK_TOPIC: topic,
      APP_BACKFILL_DAYS: '30',
    };
  };

  it('a connect with the chats scope backfills the last APP_BACKFILL_DAYS days in the background', async () => {
    const topic = uniqueName('app-backfill-raw');
    await createTopic(topic, 2);
    h = await startAppHarness({
      env: stackEnv(topic),
      fake: {
        grantedScopes: ['webhooks.configuration:rw', 'webhooks.state:rw', 'chats--all:ro', 'customers:ro'],
      },
    });
    h.fake.upsertArchives(archiveRows());
    const flow = await connectViaHttp(h);
    expect(flow.callbackStatus).toBe(303);
    await h.deps.archives.jobs.idle();
    const cell = backfillCell(await settingsOf(h, flow.sessionCookie));
    expect(cell).toMatch(new RegExp(`^done .*: ${CHATS} threads from `));
    const records = await readTopic(topic, { count: CHATS, timeoutMs: 30_000 });
    expect(records).toHaveLength(CHATS);
    const calls = h.fake.calls().filter((c) => c.path === 'agent/action/list_archives');
    expect(calls.map((c) => [c.auth, c.status])).toEqual([
      ['bearer', 200],
      ['bearer', 200],
    ]);
    // A reconnect backfills only the gap since the last backfill: its threads are known, nothing is written twice.
    const again = await connectViaHttp(h);
    await h.deps.archives.jobs.idle();
    expect(backfillCell(await settingsOf(h, again.sessionCookie))).toMatch(/^done .*: \d+ threads from /);
    expect(await readTopic(topic, { count: CHATS, timeoutMs: 10_000 })).toHaveLength(CHATS);
    // The scheduler's pass reconciles every active tenant with its OAuth token: its threads are known, none rewritten.
    await h.deps.archives.jobs.pass();
    await h.deps.archives.jobs.idle();
    const pass = h.logs
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .find((l) => l['msg'] === 'reconciliation pass');
    expect(pass).toMatchObject({
      organization_id: ORG,
      outcome: 'done',
      threadsRecovered: 0,
      eventsRecovered: 0,
    });
    const metrics = await h.deps.metrics.registry.getSingleMetricAsString('app_archive_walks_total');
    expect(metrics).toMatch(/app_archive_walks_total\{kind="reconcile",outcome="done"\} 1/);
    expect(metrics).toMatch(/app_archive_walks_total\{kind="backfill",outcome="done"\} 2/);
  });

  it('a token without the chats scope: one clear message for the tenant, the page says why, nothing is read', async () => {
    const topic = uniqueName('app-backfill-noscope');
    h = await startAppHarness({ env: stackEnv(topic) });
    h.fake.upsertArchives(archiveRows());
    const first = await connectViaHttp(h);
    await h.deps.archives.jobs.idle();
    await connectViaHttp(h);
    await h.deps.archives.jobs.idle();
    const lines = h.logs.filter((l) => l.includes('cannot read chats'));
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0]!)).toMatchObject({ organization_id: ORG, level: 40 });
    expect(backfillCell(await settingsOf(h, first.sessionCookie))).toMatch(/^not possible: .*chats--all:ro/);
    expect(h.fake.calls().filter((c) => c.path.startsWith('agent/'))).toEqual([]);
  });

  it('a walk runs in one process at a time: the lease is taken, renewed by its holder, free once released or expired', async () => {
    h = await startAppHarness();
    const a = new ArchiveStore(h.pool, { schema: 'app', leaseSeconds: 1 });
    const b = new ArchiveStore(h.pool, { schema: 'app', leaseSeconds: 1 });
    const since = new Date('2026-11-01T00:00:00Z');
    const until = new Date('2026-11-02T00:00:00Z');
    const { walk } = await a.openWalk({ tenantId: ORG, kind: 'backfill', trigger: 'cli', since, until });
    const same = await b.openWalk({
      tenantId: ORG,
      kind: 'backfill',
      trigger: 'install',
      since,
      until: new Date(),
    });
    expect(same).toEqual({ walk, created: false });
    expect(await a.claim(walk.id)).toBe(true);
    expect(await b.claim(walk.id)).toBe(false);
    expect(await a.claim(walk.id)).toBe(true);
    // The holder's checkpoint moves; the other's is refused (compare-and-set on the lease).
    const page = {
      nextPageId: 'p2',
      threads: 1,
      written: [],
      restricted: 0,
      foundChats: 5,
      lastThreadCreatedAt: null,
    };
    expect(await b.checkpoint(walk.id, ORG, page)).toBe(false);
    expect(await a.checkpoint(walk.id, ORG, page)).toBe(true);
    await a.release(walk.id);
    expect(await b.claim(walk.id)).toBe(true);
    // A crashed holder's lease expires (1 s here).
    await h.pool.query(
      `update app.archive_walks set lease_until = now() - interval '1 second' where id = $1`,
      [walk.id],
    );
    expect(await a.claim(walk.id)).toBe(true);
    expect((await a.getWalk(walk.id))?.pageId).toBe('p2');
  });
});
