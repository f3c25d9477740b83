import { setTimeout as sleep } from 'node:timers/promises';
import { pathToFileURL } from 'node:url';
import { pino } from 'pino';
import type { Logger } from 'pino';
import { formatTable } from './cli-table.js';
import { loadAppConfig } from './config.js';
import { TokenCipher } from './crypto/token-cipher.js';
import { createAppDeps } from './deps.js';
import { AppConfigError, isAppError } from './errors.js';
import { REDACT_PATHS } from './logger.js';
import type { PlanStep } from './webhooks/sync.js';
import {
  BACKFILL_USAGE,
  RECONCILE_USAGE,
  parseBackfillArgs,
  runBackfillCommand,
  runReconcileCommand,
} from './archives/backfill-cli.js';

const USAGE = `usage: pnpm livechat webhooks <command>

  list                     the app's webhooks at LiveChat, joined with the registry
  sync [--dry-run]         make LiveChat match config/livechat-webhooks.json (idempotent)
  unregister <id>          remove one webhook at LiveChat and forget its secret
  rotate-secret [--overlap-seconds N]
                           new secret for every webhook: register new, accept both for N s
                           (default APP_ROTATION_OVERLAP_SECONDS), unregister old, accept old for N s more, forget it

Authenticates with a personal access token: LIVECHAT_PAT=<account_id>:<PAT> (scope webhooks.configuration:rw),
for the app LIVECHAT_CLIENT_ID. Needs DATABASE_URL (the registry keeps the secrets' hashes for the ingest).

usage: pnpm livechat hubspot set-token <organization id or licence>   < token
  stores the tenant's HubSpot private-app token for crm-sync, read from stdin (never an argument: it would
  show in the shell's history and the process list), sealed with APP_TOKEN_KEYS.

${BACKFILL_USAGE}

${RECONCILE_USAGE}`;

export interface CliIo {
  readonly out: (text: string) => void;
  readonly err: (text: string) => void;
  /** Log destination; default stderr. */
  readonly logger?: Logger;
  /** The secret a command reads (hubspot set-token); default: stdin to its end. */
  readonly readSecret?: () => Promise<string>;
  /** Backfill progress (default: rewritten in place on a terminal stderr, every 10th page otherwise). */
  readonly progress?: (line: string, final: boolean) => void;
  /** Stops a backfill after its current page (default: the first SIGINT/SIGTERM). */
  readonly signal?: AbortSignal;
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

const fmt = (d: Date | null) => (d === null ? '-' : d.toISOString().replace(/\.\d{3}Z$/, 'Z'));

function planTable(plan: readonly PlanStep[]): string {
  return formatTable(
    ['op', 'action', 'webhook id', 'reason'],
    plan.map((s) => [s.op, s.action, s.op === 'register' ? '(new)' : s.id, s.reason]),
  );
}

/** Runs one CLI command; returns the exit code. */
export async function runCli(argv: readonly string[], env: NodeJS.ProcessEnv, io: CliIo): Promise<number> {
  const [group, command, ...rest] = argv;
  if (group === 'hubspot' && command === 'set-token' && rest[0] !== undefined)
    return setHubSpotToken(rest[0], env, io);
  if (group === 'backfill' || group === 'reconcile') return archiveCommand(group, argv.slice(1), env, io);
  if (group !== 'webhooks' || command === undefined || command === '--help') {
    io.err(USAGE);
    return group === undefined || command === '--help' ? 0 : 64;
  }
  let config;
  try {
    config = loadAppConfig(env);
  } catch (err) {
    if (err instanceof AppConfigError) {
      io.err(err.message);
      return 2;
    }
    throw err;
  }
  const logger =
    io.logger ??
    pino(
      {
        level: config.logLevel,
        base: { service: 'app-cli' },
        redact: { paths: [...REDACT_PATHS], censor: '[redacted]' },
      },
      process.stderr,
    );
  const deps = await createAppDeps(config, logger);
  try {
    const sync = deps.patWebhookSync();
    switch (command) {
      case 'list': {
        const rows = await sync.list();
        io.out(
          formatTable(
            ['id', 'action', 'url', 'since', 'secret known', 'matches config'],
            rows.map((r) => [
              r.id,
              r.action,
              r.url,
              fmt(r.since),
              r.secretKnown ? 'yes' : 'no',
              r.matchesConfig ? 'yes' : 'no',
            ]),
          ),
        );
        io.out(`${rows.length} webhook(s) for client ${config.livechat.clientId}`);
        return 0;
      }
      case 'sync': {
        const dryRun = rest.includes('--dry-run');
        const report = await sync.sync({ dryRun, overlapMs: config.rotationOverlapSeconds * 1000 });
        if (dryRun) {
          io.out(report.plan.length === 0 ? 'in sync: nothing to do' : planTable(report.plan));
          return 0;
        }
        const rows = [
          ...report.registered.map((r) => ['registered', r.action, r.id, '']),
          ...report.unregistered.map((r) => ['unregistered', r.action, r.id, r.reason]),
          ...report.forgotten.map((r) => ['forgotten', r.action, r.id, 'no longer at LiveChat']),
        ];
        io.out(
          rows.length === 0
            ? 'in sync: nothing changed'
            : formatTable(['done', 'action', 'webhook id', 'reason'], rows),
        );
        return 0;
      }
      case 'unregister': {
        const id = rest[0];
        if (id === undefined) {
          io.err('unregister needs a webhook id (see `webhooks list`)');
          return 64;
        }
        await sync.unregister(id);
        io.out(`unregistered ${id}`);
        return 0;
      }
      case 'rotate-secret': {
        const i = rest.indexOf('--overlap-seconds');
        const overlap = i >= 0 ? Number(rest[i + 1]) : config.rotationOverlapSeconds;
        if (!Number.isInteger(overlap) || overlap < 0) {
          io.err('--overlap-seconds needs a whole number of seconds');
          return 64;
        }
        const result = await sync.rotateSecrets(
          async (phase) => {
            io.err(
              `${phase}: waiting ${overlap} s (LiveChat applies configuration changes within ~2 minutes)`,
            );
            await sleep(overlap * 1000);
          },
          { overlapMs: overlap * 1000 },
        );
        io.out(
          formatTable(
            ['action', 'old webhook id', 'new webhook id'],
            result.rotated.map((r) => [r.action, r.oldId, r.newId]),
          ),
        );
        return 0;
      }
      default:
        io.err(USAGE);
        return 64;
    }
  } catch (err) {
    if (isAppError(err)) {
      io.err(`${err.code}: ${err.message}`);
      return 1;
    }
    throw err;
  } finally {
    await deps.close();
  }
}

function terminalProgress(): (line: string, final: boolean) => void {
  let n = 0;
  return (line, final) => {
    if (process.stderr.isTTY) process.stderr.write(`\r${line}\x1b[K${final ? '\n' : ''}`);
    else if (final || ++n % 10 === 0) process.stderr.write(`${line}\n`);
  };
}

/** `backfill`: reads a tenant's archives into the raw topic, resumable (Ctrl-C stops after the page in hand). */
async function archiveCommand(
  command: 'backfill' | 'reconcile',
  args: readonly string[],
  env: NodeJS.ProcessEnv,
  io: CliIo,
): Promise<number> {
  const parsed = parseBackfillArgs(args);
  if (typeof parsed === 'string') {
    io.err(`${parsed}\n\n${command === 'backfill' ? BACKFILL_USAGE : RECONCILE_USAGE}`);
    return 64;
  }
  let config;
  try {
    config = loadAppConfig(env);
  } catch (err) {
    if (err instanceof AppConfigError) {
      io.err(err.message);
      return 2;
    }
    throw err;
  }
  const logger =
    io.logger ??
    pino(
      {
        level: 'warn',
        base: { service: 'app-cli' },
        redact: { paths: [...REDACT_PATHS], censor: '[redacted]' },
      },
      process.stderr,
    );
  let signal = io.signal;
  let onSignal: (() => void) | undefined;
  if (signal === undefined) {
    const controller = new AbortController();
    signal = controller.signal;
    onSignal = () => {
      if (controller.signal.aborted) process.exit(130);
      io.err('\nstopping after the page in hand (Ctrl-C again to quit at once; the checkpoint is kept)');
      controller.abort(new Error('interrupted'));
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  }
  const deps = await createAppDeps(config, logger);
  try {
    const commandIo = { out: io.out, err: io.err, progress: io.progress ?? terminalProgress(), signal };
    return command === 'backfill'
      ? await runBackfillCommand(deps, parsed, commandIo)
      : await runReconcileCommand(deps, parsed.tenant, commandIo);
  } catch (err) {
    if (isAppError(err)) {
      io.err(`${err.code}: ${err.message}`);
      return 1;
    }
    throw err;
  } finally {
    if (onSignal !== undefined) {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }
    await deps.close();
  }
}

/** `hubspot set-token`: seals the token as the app seals its OAuth tokens and stores it for the tenant. */
async function setHubSpotToken(tenantKey: string, env: NodeJS.ProcessEnv, io: CliIo): Promise<number> {
  let config;
  try {
    config = loadAppConfig(env);
  } catch (err) {
    if (err instanceof AppConfigError) {
      io.err(err.message);
      return 2;
    }
    throw err;
  }
  if (config.tokenKeys.length === 0) {
    io.err('APP_TOKEN_KEYS is needed to seal the token (crm-sync opens it with the same keys)');
    return 2;
  }
  const token = (await (io.readSecret ?? readStdin)()).trim();
  if (!/^\S{8,512}$/.test(token)) {
    io.err('give the HubSpot token on stdin: one line, 8 to 512 characters without spaces');
    return 64;
  }
  const logger = io.logger ?? pino({ level: 'warn', base: { service: 'app-cli' } }, process.stderr);
  const deps = await createAppDeps(config, logger);
  try {
    const tenant = (await deps.registry.listTenants(config.livechat.clientId)).find(
      (t) => t.status === 'active' && (t.organizationId === tenantKey || t.licenseId === tenantKey),
    );
    if (tenant === undefined) {
      io.err(`no active tenant ${tenantKey} for client ${config.livechat.clientId}`);
      return 1;
    }
    const sealed = new TokenCipher(config.tokenKeys).seal(token, `${tenant.id}/hubspot`);
    await deps.registry.saveCrmToken(tenant.id, { keyId: sealed.keyId, tokenEnc: sealed.ciphertext });
    io.out(
      `HubSpot token stored for ${tenant.organizationId} (sealed with key ${sealed.keyId}); crm-sync uses it from its next sync`,
    );
    return 0;
  } finally {
    await deps.close();
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  runCli(process.argv.slice(2), process.env, {
    out: (t) => process.stdout.write(`${t}\n`),
    err: (t) => process.stderr.write(`${t}\n`),
  })
    .then((code) => process.exit(code))
    .catch((err: unknown) => {
      process.stderr.write(`livechat: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exit(1);
    });
}
