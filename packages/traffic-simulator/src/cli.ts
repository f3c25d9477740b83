/**
 * Writes simulated LiveChat deliveries as JSONL (one request body per line, in arrival order) to stdout.
 *
 *   tsx packages/traffic-simulator/src/cli.ts --format v3 --chats 5 --seed 1
 *   tsx packages/traffic-simulator/src/cli.ts --format v2 --chats 5 --seed 1 --expected expected.json
 */
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { TrafficSimulatorError } from './errors.js';
import { simulateTraffic, type SimulateTrafficOptions } from './simulate.js';

const USAGE = `usage: cli.ts [--format v3|v2] [--chats N] [--seed N] [--duplicate-rate 0..1] [--reorder-rate 0..1]
              [--reorder-window N] [--secret-key S] [--v2-token S] [--start-at ISO] [--expected FILE]`;

function main(argv: string[]): void {
  const { values } = parseArgs({
    args: argv,
    options: {
      format: { type: 'string', default: 'v3' },
      chats: { type: 'string', default: '5' },
      seed: { type: 'string', default: '1' },
      'duplicate-rate': { type: 'string' },
      'reorder-rate': { type: 'string' },
      'reorder-window': { type: 'string' },
      'secret-key': { type: 'string' },
      'v2-token': { type: 'string' },
      'start-at': { type: 'string' },
      expected: { type: 'string' },
      help: { type: 'boolean', default: false },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  if (values.format !== 'v2' && values.format !== 'v3') throw new UsageError(`--format must be v2 or v3`);
  const options: SimulateTrafficOptions = {
    format: values.format,
    chats: integer('--chats', values.chats),
    seed: integer('--seed', values.seed),
    ...(values['duplicate-rate'] === undefined
      ? {}
      : { duplicateRate: number('--duplicate-rate', values['duplicate-rate']) }),
    ...(values['reorder-rate'] === undefined
      ? {}
      : { reorderRate: number('--reorder-rate', values['reorder-rate']) }),
    ...(values['reorder-window'] === undefined
      ? {}
      : { reorderWindow: integer('--reorder-window', values['reorder-window']) }),
    ...(values['secret-key'] === undefined ? {} : { secretKey: values['secret-key'] }),
    ...(values['v2-token'] === undefined ? {} : { v2Token: values['v2-token'] }),
    ...(values['start-at'] === undefined ? {} : { startAt: date('--start-at', values['start-at']) }),
  };
  const traffic = simulateTraffic(options);
  process.stdout.write(traffic.deliveries.map((delivery) => `${JSON.stringify(delivery.body)}\n`).join(''));
  if (values.expected !== undefined) {
    writeFileSync(values.expected, `${JSON.stringify(traffic.expected, null, 2)}\n`);
  }
}

class UsageError extends Error {}

function number(flag: string, raw: string | undefined): number {
  const value = Number(raw);
  if (raw === undefined || raw.trim() === '' || !Number.isFinite(value))
    throw new UsageError(`${flag} must be a number`);
  return value;
}

function integer(flag: string, raw: string | undefined): number {
  const value = number(flag, raw);
  if (!Number.isInteger(value)) throw new UsageError(`${flag} must be an integer`);
  return value;
}

function date(flag: string, raw: string): Date {
  const value = new Date(raw);
  if (Number.isNaN(value.getTime())) throw new UsageError(`${flag} must be an ISO 8601 date`);
  return value;
}

try {
  main(process.argv.slice(2));
} catch (error) {
  if (error instanceof UsageError || error instanceof TrafficSimulatorError || error instanceof TypeError) {
    // parseArgs reports unknown flags as a TypeError with a readable message.
    process.stderr.write(`${error.message}\n${USAGE}\n`);
    process.exitCode = 2;
  } else {
    throw error;
  }
}
