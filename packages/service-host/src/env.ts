import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { DEFAULT_STARTUP_TIMEOUT_MS } from './startup.js';

/**
 * Environment helpers. Every variable is parsed from its string; a blank value (empty or only spaces) counts as
 * unset everywhere, so the default applies. Each helper's message is written to follow the variable's name:
 * problems read `NAME: must be …`.
 */

/** An integer environment variable within bounds. */
export const intVar = (min: number, max: number) =>
  z
    .string()
    .trim()
    .regex(/^-?\d+$/, 'must be an integer')
    .transform(Number)
    .pipe(z.number().int().min(min).max(max));

export const nameVar = z.string().trim().min(1, 'must not be empty');

/**
 * `true` / `false`; with `aliases`, also `1` / `0` / `yes` / `no`.
 */
export const boolVar = (options: { aliases?: boolean } = {}) =>
  options.aliases === true
    ? z
        .enum(['true', 'false', '1', '0', 'yes', 'no'], { message: 'must be true or false (or 1/0, yes/no)' })
        .transform((v) => v === 'true' || v === '1' || v === 'yes')
    : z.enum(['true', 'false'], { message: 'must be true or false' }).transform((v) => v === 'true');

/** A list split on `separator` (commas by default); items are trimmed and empty items dropped. */
export const listVar = (separator: string | RegExp = ',') =>
  z.string().transform((s) =>
    s
      .split(separator)
      .map((x) => x.trim())
      .filter((x) => x !== ''),
  );

/** An http(s) URL; trailing slashes are removed. */
export const httpUrlVar = () =>
  z.url({ protocol: /^https?$/, message: 'must be an http(s) URL' }).transform((u) => u.replace(/\/+$/, ''));

/** The `sslmode` values node-postgres understands (in a URL, or as `PGSSLMODE` when the URL names none). */
export const POSTGRES_SSL_MODES = [
  'disable',
  'prefer',
  'require',
  'verify-ca',
  'verify-full',
  'no-verify',
] as const;

/**
 * A Postgres connection URL (`postgres://` or `postgresql://`). Its TLS parameters are checked here, where the
 * variable's name is known, rather than at the first connection: `sslmode` must be one node-postgres
 * understands, the `sslrootcert` / `sslcert` / `sslkey` files must be readable (node-postgres reads them when a
 * pool connects), and a client certificate needs its key.
 */
export const postgresUrlVar = () =>
  z
    .string()
    .trim()
    .regex(/^postgres(ql)?:\/\//, 'must be a postgres:// URL')
    .superRefine((value, ctx) => {
      for (const message of postgresTlsProblems(value)) ctx.addIssue({ code: 'custom', message });
    });

function postgresTlsProblems(value: string): string[] {
  // The query string only: a Unix-socket URL (`postgres://u@/db?host=/var/run/postgresql`) is no WHATWG URL, but
  // node-postgres takes it.
  const query = value.indexOf('?');
  const params = new URLSearchParams(query < 0 ? '' : value.slice(query + 1));
  const problems: string[] = [];
  const sslmode = params.get('sslmode');
  if (sslmode !== null && !(POSTGRES_SSL_MODES as readonly string[]).includes(sslmode))
    problems.push(`sslmode=${sslmode} is not one of ${POSTGRES_SSL_MODES.join(', ')}`);
  if (sslmode === 'disable' && ['sslrootcert', 'sslcert', 'sslkey'].some((p) => params.has(p)))
    problems.push('sslmode=disable with TLS files: remove them or choose a TLS sslmode');
  for (const param of ['sslrootcert', 'sslcert', 'sslkey']) {
    const file = params.get(param);
    if (file === null) continue;
    try {
      readFileSync(file);
    } catch (error) {
      problems.push(`${param}=${file} cannot be read (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
    }
  }
  if (params.has('sslcert') !== params.has('sslkey'))
    problems.push(params.has('sslcert') ? 'sslcert needs sslkey' : 'sslkey needs sslcert');
  return problems;
}

/** `PGSSLMODE`: node-postgres's TLS mode for a URL without `sslmode`; a typo would silently mean no TLS. */
export const postgresTlsEnv = {
  PGSSLMODE: z
    .enum(POSTGRES_SSL_MODES, { message: `must be one of ${POSTGRES_SSL_MODES.join(', ')}` })
    .optional(),
};

/**
 * A Postgres pool's settings, one scheme for every service: `<SERVICE>_POOL_SIZE` is how many connections the
 * pool opens (`<SERVICE>_<PURPOSE>_POOL_SIZE` when a service has several pools), `<SERVICE>_PG_CONNECT_TIMEOUT_MS`
 * how long opening one may take before the query fails (retryably): a Postgres that hangs rather than refusing
 * must not hold a request or a batch forever. With N processes of a service the database must allow N × its pools.
 */
export const poolSizeVar = (defaultSize: number, min = 1) => intVar(min, 100).default(defaultSize);
export const pgConnectTimeoutVar = (defaultMs = 5_000) => intVar(100, 120_000).default(defaultMs);

/** `KAFKA_BROKERS`: comma-separated host:port, at least one. */
export const brokersVar = () =>
  listVar().pipe(
    z
      .array(z.string().regex(/^[^:\s]+:\d{1,5}$/, 'each broker must be host:port'))
      .min(1, 'needs at least one broker'),
  );

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
export const logLevelVar = () => z.enum(LOG_LEVELS).default('info');

/** `<SERVICE>_STARTUP_TIMEOUT_MS`: how long start-up steps are retried (1 s … 10 min, default 60 s). */
export const startupTimeoutVar = () => intVar(1_000, 600_000).default(DEFAULT_STARTUP_TIMEOUT_MS);

/** The variables of `env` that are set to something other than blanks (blank = unset). */
export function presentEnv(env: NodeJS.ProcessEnv, names?: readonly string[]): Record<string, string> {
  const present: Record<string, string> = {};
  for (const name of names ?? Object.keys(env)) {
    const value = env[name];
    if (value !== undefined && value.trim() !== '') present[name] = value;
  }
  return present;
}

export type EnvResult<T> =
  | { readonly ok: true; readonly data: T; readonly present: Record<string, string> }
  | { readonly ok: false; readonly problems: string[]; readonly present: Record<string, string> };

/**
 * Parses the schema's variables (blank = unset) and returns the values, or one `NAME: message` line per bad
 * variable, for services that add checks of their own and throw their own typed error.
 */
export function readEnv<S extends z.ZodObject>(schema: S, env: NodeJS.ProcessEnv): EnvResult<z.output<S>> {
  const present = presentEnv(env, Object.keys(schema.shape));
  const parsed = schema.safeParse(present);
  if (parsed.success) return { ok: true, data: parsed.data, present };
  return {
    ok: false,
    problems: parsed.error.issues.map((issue) => `${String(issue.path[0] ?? '?')}: ${issue.message}`),
    present,
  };
}

/**
 * Parses the environment with a schema (blank = unset) and names every bad variable in one message. The exported
 * `parseEnv` (cluster.ts) adds the cluster settings' checks to it.
 */
export function parseSchemaEnv<S extends z.ZodType>(
  schema: S,
  env: NodeJS.ProcessEnv,
  what: string,
  more: readonly string[] = [],
): z.output<S> {
  const parsed = schema.safeParse(presentEnv(env));
  const lines = parsed.success
    ? []
    : parsed.error.issues.map((issue) => `  ${issue.path.join('.')}: ${issue.message}`);
  for (const problem of more) if (!lines.includes(`  ${problem}`)) lines.push(`  ${problem}`);
  if (parsed.success && lines.length === 0) return parsed.data;
  throw new ServiceConfigError(`invalid ${what} configuration:\n${lines.join('\n')}`);
}

/** Freezes a configuration object and everything in it (Buffers excepted), so nothing can change it after start. */
export function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value) && !Buffer.isBuffer(value)) {
    Object.freeze(value);
    for (const inner of Object.values(value)) deepFreeze(inner);
  }
  return value;
}

export class ServiceConfigError extends Error {
  override readonly name: string = 'ServiceConfigError';
  readonly code: string = 'SERVICE_BAD_CONFIG';
}
