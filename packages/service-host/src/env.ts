import { z } from 'zod';
import { DEFAULT_STARTUP_TIMEOUT_MS } from './startup.js';

/** An integer environment variable within bounds (env values are strings). */
export const intVar = (min: number, max: number) =>
  z.string().trim().regex(/^\d+$/, 'must be an integer').transform(Number).pipe(z.number().int().min(min).max(max));

export const nameVar = z.string().trim().min(1, 'must not be empty');

/** `<SERVICE>_STARTUP_TIMEOUT_MS`: how long start-up steps are retried (1 s … 10 min, default 60 s). */
export const startupTimeoutVar = () => intVar(1_000, 600_000).default(DEFAULT_STARTUP_TIMEOUT_MS);

/** The connection settings every service shares, with defaults for the local stack. */
export const connectionEnv = (clientId: string) => ({
  KAFKA_BROKERS: z
    .string()
    .default('127.0.0.1:59092')
    .transform((s) => s.split(',').map((b) => b.trim()).filter(Boolean))
    .pipe(z.array(z.string().regex(/^[^:\s]+:\d+$/, 'each broker must be host:port')).min(1, 'needs at least one broker')),
  KAFKA_CLIENT_ID: nameVar.default(clientId),
  KAFKA_REPLICATION_FACTOR: intVar(1, 10).default(1),
  SCHEMA_REGISTRY_URL: z.url('must be a URL').default('http://127.0.0.1:58081/apis/ccompat/v7'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

/** Parses the environment with a schema and names every bad variable in one message. */
export function parseEnv<S extends z.ZodType>(schema: S, env: NodeJS.ProcessEnv, what: string): z.output<S> {
  const parsed = schema.safeParse(env);
  if (parsed.success) return parsed.data;
  const lines = parsed.error.issues.map((issue) => `  ${issue.path.join('.')}: ${issue.message}`);
  throw new ServiceConfigError(`invalid ${what} configuration:\n${lines.join('\n')}`);
}

export class ServiceConfigError extends Error {
  override readonly name = 'ServiceConfigError';
  readonly code = 'SERVICE_BAD_CONFIG';
}
