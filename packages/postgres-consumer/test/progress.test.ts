import { describe, expect, it } from 'vitest';
import { progressSnapshot, renderProgressBar } from '../src/progress.js';
import { defaultSchemaName, resolveOptions } from '../src/options.js';
import { ConsumerError } from '../src/errors.js';
import type { Kafka } from 'kafkajs';

describe('rebuild progress', () => {
  it('computes rate from this run only and the ETA from what is left', () => {
    const p = progressSnapshot(6_000, 10_000, 2_000, 2_000);
    expect(p.ratePerSec).toBe(2_000);
    expect(p.etaSeconds).toBe(2);
    expect(renderProgressBar(p, 10)).toBe('[######....] 6000/10000 60.0% 2000 ev/s ETA 0:02');
  });

  it('shows an unknown ETA before anything moved, and 100% for an empty topic', () => {
    expect(renderProgressBar(progressSnapshot(0, 10, 0, 0), 4)).toBe('[....] 0/10 0.0% 0 ev/s ETA --:--');
    expect(renderProgressBar(progressSnapshot(0, 0, 0, 0), 4)).toBe('[####] 0/0 100.0% 0 ev/s ETA 0:00');
  });
});

describe('resolveOptions', () => {
  const kafka = {} as Kafka;
  const definition = {
    name: 'crm-sync',
    topics: ['t'],
    decode: async () => 1,
    eventId: () => 'x',
    handle: async () => undefined,
  };

  it('derives schema, group and dead-letter topic from the name, and freezes the result', () => {
    const resolved = resolveOptions(definition, { kafka, databaseUrl: 'postgres://x' });
    expect(resolved).toMatchObject({
      schema: 'crm_sync',
      groupId: 'crm-sync',
      deadLetterTopic: 'crm-sync.dlq',
      dedupRetentionMs: 86_400_000,
    });
    expect(Object.isFrozen(resolved)).toBe(true);
    expect(defaultSchemaName('9lives')).toBe('c_9lives');
  });

  it('rejects unsafe schema names and empty topic lists', () => {
    expect(() => resolveOptions({ ...definition, schema: 'x"; drop' }, { kafka, databaseUrl: '' })).toThrow(
      ConsumerError,
    );
    expect(() => resolveOptions({ ...definition, topics: [] }, { kafka, databaseUrl: '' })).toThrow(
      /no topics/,
    );
  });
});
