import { describe, expect, it } from 'vitest';
import {
  generateChats,
  renderV2,
  renderV3,
  scheduleDeliveries,
  simulateTraffic,
  simulatedTenant,
} from '../src/index.js';
import {
  byChatId,
  formatNeutral,
  readV2,
  readV3,
  transcriptFromExpected,
  v2Bodies,
  v3Bodies,
} from './transcript-reader.js';

describe('simulateTraffic', () => {
  it('is deterministic: same options, same bytes', () => {
    const options = { seed: 99, chats: 20, format: 'v3', duplicateRate: 0.2, reorderWindow: 2 } as const;
    const a = simulateTraffic(options);
    const b = simulateTraffic(options);
    expect(JSON.stringify(a)).toBe(JSON.stringify(b));
    expect(JSON.stringify(simulateTraffic({ ...options, seed: 100 }).deliveries)).not.toBe(
      JSON.stringify(a.deliveries),
    );
  });

  it('survives a JSON round trip unchanged (what the ingest service actually receives)', () => {
    for (const format of ['v3', 'v2'] as const) {
      const { deliveries } = simulateTraffic({ seed: 1, chats: 30, format });
      for (const delivery of deliveries)
        expect(JSON.parse(JSON.stringify(delivery.body))).toEqual(delivery.body);
    }
  });

  it('carries the configured secrets on every body, and nowhere in the expected facts', () => {
    const v3 = simulateTraffic({ seed: 2, chats: 10, format: 'v3', secretKey: 'sk-CANARY-1' });
    const v2 = simulateTraffic({ seed: 2, chats: 10, format: 'v2', v2Token: 'tok-CANARY-2' });
    expect(v3.deliveries.every((d) => d.format === 'v3' && d.body.secret_key === 'sk-CANARY-1')).toBe(true);
    expect(v2.deliveries.every((d) => d.format === 'v2' && d.body.token === 'tok-CANARY-2')).toBe(true);
    expect(JSON.stringify(v3.expected)).not.toContain('CANARY');
    expect(JSON.stringify(v2.expected)).not.toContain('CANARY');
  });

  it('v3 traffic, retried and reordered, shows exactly the expected facts', () => {
    const { deliveries, expected } = simulateTraffic({
      seed: 3,
      chats: 80,
      format: 'v3',
      duplicateRate: 0.3,
      reorderRate: 0.3,
    });
    expect(deliveries.some((d) => d.duplicateOf !== undefined)).toBe(true);
    expect(byChatId(readV3(v3Bodies(deliveries)))).toEqual(
      byChatId(expected.map((e) => transcriptFromExpected(e, 'micros'))),
    );
  });

  it('v2 traffic, retried and reordered, shows the expected facts at second precision', () => {
    const { deliveries, expected } = simulateTraffic({
      seed: 3,
      chats: 80,
      format: 'v2',
      duplicateRate: 0.3,
      reorderRate: 0.3,
    });
    expect(byChatId(readV2(v2Bodies(deliveries)))).toEqual(
      byChatId(expected.map((e) => transcriptFromExpected(e, 'seconds'))),
    );
  });

  it('v2 and v3 renderings of the same chats tell the same story (modulo time precision and tenant id)', () => {
    const tenants = [simulatedTenant(4, 'north'), simulatedTenant(4, 'south')];
    const chats = generateChats({ seed: 4, chats: 50, tenants });
    const fromV3 = readV3(v3Bodies(scheduleDeliveries(renderV3(chats), { seed: 4, duplicateRate: 0.2 })));
    const fromV2 = readV2(v2Bodies(scheduleDeliveries(renderV2(chats), { seed: 4, duplicateRate: 0.2 })));
    expect(byChatId(fromV2).map(formatNeutral)).toEqual(byChatId(fromV3).map(formatNeutral));
    // Same tenant concept in both renderings.
    const tenantOf = new Map(chats.map((chat) => [chat.chatId, chat.tenant]));
    for (const t of fromV3) expect(t.tenant).toBe(tenantOf.get(t.chatId)?.organizationId);
    for (const t of fromV2) expect(t.tenant).toBe(tenantOf.get(t.chatId)?.licenseId);
    expect(new Set(fromV3.map((t) => t.tenant)).size).toBe(2);
  });

  it('honours startAt', () => {
    const { expected } = simulateTraffic({
      seed: 5,
      chats: 3,
      format: 'v3',
      startAt: new Date('2030-01-02T03:04:05Z'),
    });
    expect(expected[0]?.startedAt).toMatch(/^2030-01-02T03:04:05\.\d{6}Z$/);
  });
});
