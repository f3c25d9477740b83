/**
 * `pnpm test:faults`: the fault suite in its long mode on the managed local stack (started when not running).
 * FAULT_SEED replays a run; FAULT_MODE=quick runs the `npm test` mode; FAULT_RATE overrides webhooks per second;
 * FAULT_SPOOL=off runs the ingest without its spool (the suite then fails: webhooks given up during the outage).
 * FAULT_MODE=scale-out runs the scale-out run instead (scale-out.ts: two processes of each kind, 6 partitions);
 * SCALE_OUT_STEADY_SECONDS sets its measured steady-state window (default 20 s, after an 8 s warm-up).
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadStackSettings, stackUp } from '@livechat-pipeline/local-stack';
import { resultTable } from './report.js';
import { DEFAULT_STEADY_SECONDS, runScaleOut } from './scale-out.js';
import { seedFrom } from './schedule.js';
import { ServiceProcess } from './service-process.js';
import { failedChecks, runFaultSuite } from './suite.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const say = (line: string) => process.stderr.write(`${line}\n`);

async function main(): Promise<number> {
  if (process.env['KAFKA_BROKERS'] || process.env['SCHEMA_REGISTRY_URL'] || process.env['DATABASE_URL']) {
    say(
      'test:faults stops and starts the broker and Postgres, which only the managed local stack allows: unset KAFKA_BROKERS, SCHEMA_REGISTRY_URL and DATABASE_URL (STACK_* choose its ports)',
    );
    return 2;
  }
  const mode = process.env['FAULT_MODE']?.trim() || 'full';
  if (mode !== 'full' && mode !== 'quick' && mode !== 'scale-out') {
    say(`FAULT_MODE must be full, quick or scale-out, got "${mode.slice(0, 40)}"`);
    return 2;
  }
  const rateText = process.env['FAULT_RATE']?.trim();
  const rate = rateText ? Number(rateText) : undefined;
  if (rate !== undefined && !(Number.isInteger(rate) && rate >= 1 && rate <= 2000)) {
    say(`FAULT_RATE must be an integer from 1 to 2000, got "${rateText!.slice(0, 40)}"`);
    return 2;
  }
  const spoolText = process.env['FAULT_SPOOL']?.trim() || 'on';
  if (spoolText !== 'on' && spoolText !== 'off') {
    say(`FAULT_SPOOL must be on or off, got "${spoolText.slice(0, 40)}"`);
    return 2;
  }
  const steadyText = process.env['SCALE_OUT_STEADY_SECONDS']?.trim();
  const steadySeconds = steadyText ? Number(steadyText) : DEFAULT_STEADY_SECONDS;
  if (!(Number.isInteger(steadySeconds) && steadySeconds >= 5 && steadySeconds <= 600)) {
    say(`SCALE_OUT_STEADY_SECONDS must be an integer from 5 to 600, got "${steadyText!.slice(0, 40)}"`);
    return 2;
  }
  const seed = seedFrom(process.env);
  const { endpoints } = await stackUp(loadStackSettings(), (line) => say(`stack: ${line}`));
  // The testkit helpers the suite uses read the endpoints from the environment, as in the integration tests.
  process.env['KAFKA_BROKERS'] = endpoints.kafkaBrokers;
  process.env['SCHEMA_REGISTRY_URL'] = endpoints.schemaRegistryUrl;
  process.env['DATABASE_URL'] = endpoints.databaseUrl;
  process.env['LOCAL_STACK_MANAGED'] = '1';
  if (mode === 'scale-out') {
    const scaled = await runScaleOut({ root, seed, say, steadySeconds });
    process.stdout.write(`${scaled.lines.join('\n')}\n`);
    for (const line of scaled.failed) process.stdout.write(`FAILED: ${line}\n`);
    process.stdout.write(`scale-out: ${scaled.failed.length === 0 ? 'PASSED' : 'FAILED'}\n`);
    return scaled.failed.length === 0 ? 0 : 1;
  }
  const result = await runFaultSuite({
    spool: spoolText === 'on',
    seed,
    mode,
    root,
    say,
    ...(rate === undefined ? {} : { ratePerSecond: rate }),
  });
  process.stdout.write(`${resultTable(result)}\n`);
  return failedChecks(result).length === 0 ? 0 : 1;
}

// Ctrl-C: the services this run started go with it (the stack stays, as after any run).
for (const signal of ['SIGINT', 'SIGTERM'] as const)
  process.once(signal, () => {
    ServiceProcess.killAll();
    say(`fault suite: ${signal}: services stopped`);
    process.exit(130);
  });

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    say(
      `fault suite failed to run: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`,
    );
    process.exit(1);
  },
);
