import { Partitioners } from 'kafkajs';
import type { PartitionMetadata } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { murmur2, partitionOfKey, producerOfPartition } from '../src/partitioner.js';

function kafkajsPartition(key: string, partitions: number): number {
  const partitioner = Partitioners.DefaultPartitioner();
  const partitionMetadata: PartitionMetadata[] = Array.from({ length: partitions }, (_, i) => ({
    partitionId: i,
    leader: 0,
    replicas: [0],
    isr: [0],
    partitionErrorCode: 0,
  }));
  return partitioner({ topic: 't', partitionMetadata, message: { key, value: null } });
}

const keys = [
  '',
  'a',
  'ab',
  'abc',
  'abcd',
  'abcde',
  'f9c7cc55-b35a-4e76-b0d5-ae9fce362314|BENCH00001',
  '12345|agent:smith@example.com',
  '|tag:sales',
  'Żaneta|czat-ąęś 🚀',
  ...Array.from({ length: 500 }, (_, i) => `org-${i % 7}|CHAT${(i * 7919).toString(36).toUpperCase()}`),
];

describe('partitionOfKey', () => {
  it("chooses the same partition as Kafka's (and KafkaJS's) default partitioner", () => {
    for (const partitions of [1, 2, 3, 6, 12, 100]) {
      for (const key of keys)
        expect(partitionOfKey(key, partitions), `${key} / ${partitions}`).toBe(
          kafkajsPartition(key, partitions),
        );
    }
  });

  it('gives the same answer for the key as a string and as its UTF-8 bytes', () => {
    for (const key of keys) expect(partitionOfKey(Buffer.from(key, 'utf8'), 6)).toBe(partitionOfKey(key, 6));
  });

  it("matches the Java client's murmur2 on known values", () => {
    // Values from Kafka's UtilsTest.testMurmur2 (org.apache.kafka.common.utils).
    expect(murmur2(Buffer.from('21'))).toBe(-973932308);
    expect(murmur2(Buffer.from('foobar'))).toBe(-790332482);
    expect(murmur2(Buffer.from('a-little-bit-long-string'))).toBe(-985981536);
    expect(murmur2(Buffer.from('a-little-bit-longer-string'))).toBe(-1486304829);
    expect(murmur2(Buffer.from('lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8'))).toBe(-58897971);
    expect(murmur2(Buffer.from([97, 98, 99]))).toBe(479470107);
  });

  it('refuses a partition count that is not a positive integer', () => {
    expect(() => partitionOfKey('k', 0)).toThrow(RangeError);
    expect(() => partitionOfKey('k', 1.5)).toThrow(RangeError);
  });
});

describe('producerOfPartition', () => {
  it('sends every record of a partition through the same producer, and uses every producer', () => {
    for (const producers of [1, 2, 3, 4]) {
      const used = new Set<number>();
      for (let partition = 0; partition < 12; partition++) {
        const p = producerOfPartition(partition, producers);
        expect(p).toBeGreaterThanOrEqual(0);
        expect(p).toBeLessThan(producers);
        expect(producerOfPartition(partition, producers)).toBe(p);
        used.add(p);
      }
      expect(used.size).toBe(producers);
    }
  });

  it('keeps the records of one key (one chat) on one partition and so on one producer', () => {
    const key = 'f9c7cc55-b35a-4e76-b0d5-ae9fce362314|BENCH00001';
    const owners = new Set(Array.from({ length: 20 }, () => producerOfPartition(partitionOfKey(key, 6), 3)));
    expect(owners.size).toBe(1);
  });

  it('refuses a producer count that is not a positive integer', () => {
    expect(() => producerOfPartition(0, 0)).toThrow(RangeError);
  });
});
