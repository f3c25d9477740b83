import { parseArgs } from 'node:util';
import { isPrivacyError, migratePrivacy, runErasure } from '@livechat-pipeline/privacy';
import { ServiceConfigError } from '@livechat-pipeline/service-host';
import { loadPrivacyServiceConfig } from './config.js';
import { PrivacyCliError } from './errors.js';
import { REENCRYPT_USAGE, runReencryptCli } from './reencrypt-cli.js';
import { createPrivacyRuntime } from './start.js';

export const USAGE = `usage:
  pnpm privacy erase --tenant <id> (--customer-id <id|-> | --email <address|->) [--request-id <id>] [--actor <name>]
    (- reads the customer id or e-mail from the first line of standard input: keeps it out of shell history and ps)
  pnpm privacy retention --tenant <id> (--days <1-36500> | --default)
  pnpm privacy rewrap [--batch-size <n>]
  pnpm privacy audit --tenant <id> [--limit <n>]
${REENCRYPT_USAGE}`;

export interface CliIo {
  readonly env: NodeJS.ProcessEnv;
  /** Standard input as text, for `--email -` / `--customer-id -` (absent: no standard input to read). */
  readonly readStdin?: () => Promise<string>;
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
}

type Subject = { customerId: string } | { email: string };

type Command =
  | {
      kind: 'erase';
      tenant: string;
      /** `stdin`: given as `-`, read from standard input by runCli. */
      subject: Subject | { stdin: 'customer-id' | 'email' };
      requestId?: string;
      actor?: string;
    }
  | { kind: 'retention'; tenant: string; days: number | null }
  | { kind: 'rewrap'; batchSize?: number }
  | { kind: 'audit'; tenant: string; limit?: number };

const bad = (message: string): never => {
  throw new PrivacyCliError('PRIVACY_CLI_BAD_ARGUMENTS', message);
};

function positiveInt(name: string, value: string | undefined, max: number): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || n < 1 || n > max) bad(`--${name} must be an integer from 1 to ${max}`);
  return n;
}

function nonEmpty(name: string, value: string | undefined): string {
  if (value === undefined || value.trim() === '') bad(`--${name} <value> is required`);
  return value!.trim();
}

/** A customer id or an e-mail, checked; `source` names where it came from in the error. */
function subjectOf(option: 'customer-id' | 'email', value: string | undefined, source: string): Subject {
  if (value === undefined || value.trim() === '') return bad(`${source} <value> is required`);
  const v = value.trim();
  if (option === 'customer-id') return { customerId: v };
  if (!/^[^\s@]+@[^\s@]+$/.test(v)) bad(`${source} must be an e-mail address (name@domain)`);
  return { email: v };
}

/** The command line as a command, or PRIVACY_CLI_BAD_ARGUMENTS naming what is wrong. */
export function parseCommand(argv: readonly string[]): Command {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      strict: true,
      options: {
        tenant: { type: 'string' },
        'customer-id': { type: 'string' },
        email: { type: 'string' },
        'request-id': { type: 'string' },
        actor: { type: 'string' },
        days: { type: 'string' },
        default: { type: 'boolean' },
        'batch-size': { type: 'string' },
        limit: { type: 'string' },
      },
    });
  } catch (error) {
    return bad((error as Error).message);
  }
  const { positionals, values: v } = parsed;
  const [command, ...rest] = positionals;
  if (rest.length > 0) bad(`unexpected argument "${rest[0]!.slice(0, 80)}"`);
  const allowed: Record<string, readonly string[]> = {
    erase: ['tenant', 'customer-id', 'email', 'request-id', 'actor'],
    retention: ['tenant', 'days', 'default'],
    rewrap: ['batch-size'],
    audit: ['tenant', 'limit'],
  };
  if (command === undefined || allowed[command] === undefined)
    return bad(command === undefined ? 'a command is required' : `unknown command "${command.slice(0, 40)}"`);
  for (const option of Object.keys(v))
    if (!allowed[command]!.includes(option)) bad(`--${option} does not apply to ${command}`);
  switch (command) {
    case 'erase': {
      const tenant = nonEmpty('tenant', v.tenant);
      const customerId = v['customer-id'];
      const email = v.email;
      if ((customerId === undefined) === (email === undefined))
        bad('erase needs exactly one of --customer-id <id> or --email <address>');
      const [option, value] =
        customerId !== undefined ? (['customer-id', customerId] as const) : (['email', email] as const);
      const subject = value === '-' ? { stdin: option } : subjectOf(option, value, `--${option}`);
      return {
        kind: 'erase',
        tenant,
        subject,
        ...(v['request-id'] === undefined ? {} : { requestId: nonEmpty('request-id', v['request-id']) }),
        ...(v.actor === undefined ? {} : { actor: nonEmpty('actor', v.actor) }),
      };
    }
    case 'retention': {
      const tenant = nonEmpty('tenant', v.tenant);
      if ((v.days === undefined) === (v.default !== true))
        bad('retention needs exactly one of --days <1-36500> or --default');
      return {
        kind: 'retention',
        tenant,
        days: v.default === true ? null : positiveInt('days', v.days, 36_500)!,
      };
    }
    case 'rewrap': {
      const batchSize = positiveInt('batch-size', v['batch-size'], 10_000);
      return { kind: 'rewrap', ...(batchSize === undefined ? {} : { batchSize }) };
    }
    default: {
      const limit = positiveInt('limit', v.limit, 10_000);
      return {
        kind: 'audit',
        tenant: nonEmpty('tenant', v.tenant),
        ...(limit === undefined ? {} : { limit }),
      };
    }
  }
}

/**
 * Runs one CLI command; returns the exit code: 0 done (the result as JSON on stdout), 2 bad arguments or
 * configuration (the problem on stderr), 1 failed (`CODE: message` on stderr; an erasure names its request id).
 */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  if (argv[0] === 'reencrypt') return runReencryptCli(argv.slice(1), io);
  let command: Command;
  let config;
  /** The erasure's subject, read from standard input when given as `-`. */
  let subject: Subject | undefined;
  try {
    command = parseCommand(argv);
    if (command.kind === 'erase' && 'stdin' in command.subject) {
      const option = command.subject.stdin;
      if (io.readStdin === undefined) bad(`--${option} -: there is no standard input to read`);
      const firstLine = (await io.readStdin!()).split('\n')[0];
      subject = subjectOf(option, firstLine, `--${option} - (standard input)`);
    } else if (command.kind === 'erase' && !('stdin' in command.subject)) subject = command.subject;
    config = loadPrivacyServiceConfig(io.env);
  } catch (error) {
    if (error instanceof PrivacyCliError) {
      io.stderr(`${error.code}: ${error.message}\n${USAGE}\n`);
      return 2;
    }
    if (error instanceof ServiceConfigError) {
      io.stderr(`${error.code}: ${error.message}\n`);
      return 2;
    }
    throw error;
  }
  const runtime = createPrivacyRuntime({ ...config, poolSize: Math.min(config.poolSize, 2) });
  try {
    await migratePrivacy(runtime.vaultPool, { schema: config.privacy.schema });
    const vault = runtime.deps.vault;
    let result: unknown;
    if (command.kind === 'erase') {
      const outcome = await runErasure(runtime.deps, {
        tenantId: command.tenant,
        subject: subject!,
        requestId: command.requestId,
        actor: command.actor ?? `cli:${io.env['USER'] ?? 'operator'}`,
      });
      // the chats are ids, not personal data, yet a count is all an operator needs
      const { chatIds: _chatIds, ...counts } = outcome;
      result = counts;
    } else if (command.kind === 'retention') {
      await vault.setRetention(command.tenant, command.days);
      result = { tenant: command.tenant, days: command.days ?? 'default' };
    } else if (command.kind === 'rewrap') {
      result = await vault.rewrap(command.batchSize === undefined ? {} : { batchSize: command.batchSize });
    } else {
      result = await vault.erasuresOf(command.tenant, command.limit);
    }
    io.stdout(`${JSON.stringify(result, null, 2)}\n`);
    return 0;
  } catch (error) {
    io.stderr(
      `${isPrivacyError(error) ? `${error.code}: ` : ''}${error instanceof Error ? error.message : String(error)}\n`,
    );
    return 1;
  } finally {
    await runtime.close();
  }
}
