import { FAULT_KINDS } from './schedule.js';
import { failedChecks, type FaultSuiteResult } from './suite.js';

/** The end-of-run table (also what goes into an issue's closing note). */
export function resultTable(result: FaultSuiteResult): string {
  const rows: [string, string][] = [
    ['seed', `FAULT_SEED=${result.seed} (mode ${result.mode})`],
    ['duration', `${(result.durationMs / 1000).toFixed(0)} s`],
    ['webhooks acked', `${result.acked} of ${result.requests} requests (${result.chatsStarted} chats)`],
    [
      'non-200 answers',
      Object.keys(result.failures).length === 0
        ? '0'
        : Object.entries(result.failures)
            .map(([reason, n]) => `${reason}: ${n}`)
            .join(', '),
    ],
    ...FAULT_KINDS.map((kind): [string, string] => [
      `faults: ${kind}`,
      kind === 'normalizer-kill' || kind === 'transcripts-kill'
        ? `${result.faults[kind]} (${result.killsAtWork[kind]} at work, ${result.faults[kind] - result.killsAtWork[kind]} while starting again)`
        : String(result.faults[kind]),
    ]),
    ['broker down', result.brokerDownMs.map((ms) => `${(ms / 1000).toFixed(1)} s`).join(', ') || '-'],
    [
      'acked missing from views',
      `${result.missing}   (must be 0${result.missing > 0 ? `; ${result.missingFromRawTopic} of them never on the raw topic` : ''})`,
    ],
    [
      'chats differing',
      `${result.differing}   (must be 0; ${result.comparedChats} complete chats compared${result.tagsNotCompared > 0 ? `, the tags of ${result.tagsNotCompared} not: a v2 tag list repeated` : ''})`,
    ],
    [
      'chats incomplete',
      `${result.incompleteChats}   (must be 0; ${result.gaveUp} webhooks given up after 3 retries)`,
    ],
    [
      'longest request',
      `${Math.round(result.longestRequestMs)} ms   (must be < 10000; p99 ${Math.round(result.p99RequestMs)} ms)`,
    ],
    [
      'spool high-water',
      Object.keys(result.spoolHighWater).length === 0
        ? 'n/a (the ingest has no spool metrics)'
        : Object.entries(result.spoolHighWater)
            .filter(
              ([name]) =>
                /^ingest_spool_(high_water_)?(bytes|records)$/.test(name) || !/^ingest_spool_/.test(name),
            )
            .map(([name, v]) => `${name} ${v}`)
            .join(', '),
    ],
    ['dead letters', String(result.deadLetters)],
    ['unplanned exits', result.unplannedExits.length === 0 ? '0' : result.unplannedExits.join('; ')],
  ];
  const width = Math.max(...rows.map(([k]) => k.length));
  const failed = failedChecks(result);
  const lines = [
    '==================== fault suite ====================',
    ...rows.map(([k, v]) => `${k.padEnd(width)} : ${v}`),
    ...(result.faultsOutOfState.length > 0 ? [`out of state : ${result.faultsOutOfState.join('; ')}`] : []),
    ...result.missingExamples.map((line) => `missing: ${line}`),
    ...result.differingExamples.map((line) => `differs: ${line}`),
    `verdict${' '.repeat(Math.max(0, width - 7))} : ${failed.length === 0 ? 'PASSED' : `FAILED: ${failed.join('; ')}`}`,
    `run folder (logs, ledger): ${result.runDir}`,
    '=====================================================',
  ];
  return lines.join('\n');
}
