import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { resultTable } from './report.js';
import { FAULT_KINDS, seedFrom } from './schedule.js';
import { runFaultSuite } from './suite.js';

/**
 * The fault suite in its `npm test` mode (about four minutes): the real services as processes, LiveChat-like
 * traffic, a 90 s broker outage, the ingest SIGKILLed while spooling and while draining, ten consumer SIGKILLs and
 * a Postgres restart; then the ledger against the views. FAULT_SEED replays a run (the seed is printed).
 */
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

describe('the pipeline under faults (ledger of acknowledged webhooks against the views)', () => {
  it(
    'loses no acknowledged webhook, keeps every transcript exact and answers every request within 10 s',
    { timeout: 600_000 },
    async () => {
      if (process.env['LOCAL_STACK_MANAGED'] !== '1')
        throw new Error('the fault suite stops the broker and Postgres: it needs the managed local stack');
      const seed = seedFrom(process.env);
      process.stderr.write(`fault suite: FAULT_SEED=${seed}\n`);
      const result = await runFaultSuite({
        seed,
        mode: 'quick',
        root,
        say: (line) => process.stderr.write(`${line}\n`),
      });
      const table = resultTable(result);
      process.stdout.write(`${table}\n`);

      expect(result.missingExamples, table).toEqual([]);
      expect(result.missing, table).toBe(0);
      expect(result.differingExamples, table).toEqual([]);
      expect(result.incompleteChats, table).toBe(0);
      expect(result.longestRequestMs, table).toBeLessThan(10_000);
      expect(result.deadLetters, table).toBe(0);
      expect(result.problems, table).toEqual([]);
      // Every fault was injected, in the state it is meant for.
      expect(result.faultsOutOfState, table).toEqual([]);
      for (const kind of FAULT_KINDS) expect(result.faults[kind], `${kind}\n${table}`).toBeGreaterThan(0);
      expect(result.faults['normalizer-kill'] + result.faults['transcripts-kill']).toBeGreaterThanOrEqual(10);
      expect(Math.min(...result.brokerDownMs)).toBeGreaterThanOrEqual(90_000);
      expect(result.acked).toBeGreaterThan(1000);
      expect(result.comparedChats).toBeGreaterThan(100);
    },
  );
});
