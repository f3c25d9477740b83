/**
 * Partition and producer choice for the raw topic. The partition of a key is Kafka's default
 * (`toPositive(murmur2(utf8 key)) % partitions`, the same as the Java client's and KafkaJS's DefaultPartitioner),
 * computed here so that the record can be routed to the producer that owns its partition: partition `p` always
 * goes through producer `p % producers`, so the records of a partition (of a chat) keep their order.
 */

const SEED = 0x9747b28c;
const M = 0x5bd1e995;

/** Kafka's murmur2 (32-bit, as the Java client's `Utils.murmur2`) of the UTF-8 bytes of `key`. */
export function murmur2(key: string | Buffer): number {
  const data = typeof key === 'string' ? Buffer.from(key, 'utf8') : key;
  const length = data.length;
  let h = (SEED ^ length) | 0;
  const length4 = length >>> 2;
  for (let i = 0; i < length4; i++) {
    let k = data.readInt32LE(i * 4);
    k = Math.imul(k, M);
    k ^= k >>> 24;
    k = Math.imul(k, M);
    h = Math.imul(h, M) ^ k;
  }
  const tail = length & ~3;
  const rest = length & 3;
  if (rest > 0) {
    if (rest === 3) h ^= (data[tail + 2] ?? 0) << 16;
    if (rest >= 2) h ^= (data[tail + 1] ?? 0) << 8;
    h ^= data[tail] ?? 0;
    h = Math.imul(h, M);
  }
  h ^= h >>> 13;
  h = Math.imul(h, M);
  h ^= h >>> 15;
  return h | 0;
}

/** The partition of a keyed record among `partitions`, as Kafka's default partitioner chooses it. */
export function partitionOfKey(key: string | Buffer, partitions: number): number {
  if (!Number.isInteger(partitions) || partitions < 1)
    throw new RangeError(`partitions must be a positive integer, got ${partitions}`);
  return (murmur2(key) & 0x7fffffff) % partitions;
}

/** The producer (0 … producers-1) that owns `partition`: every record of a partition goes through the same one. */
export function producerOfPartition(partition: number, producers: number): number {
  if (!Number.isInteger(producers) || producers < 1)
    throw new RangeError(`producers must be a positive integer, got ${producers}`);
  return partition % producers;
}
