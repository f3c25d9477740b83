import { z } from 'zod';
import { boolVar, intVar, readEnv } from '@livechat-pipeline/service-host';
import { MIN_LINK_SECRET_LENGTH } from '@livechat-pipeline/dashboard';

export interface DashboardConfig {
  /** Seals the session cookie; null: a random key per process (sessions end when the api restarts). */
  readonly sessionSecret: string | null;
  /** Sessions opened with an API key. */
  readonly sessionTtlSeconds: number;
  /** Sessions opened from a link of the LiveChat app (no key to revoke: shorter). */
  readonly linkSessionTtlSeconds: number;
  /** Shared with the LiveChat app, which signs its "Open the dashboard" links with it; null: links are off. */
  readonly linkSecret: string | null;
  /** Secure cookies; null: when the request came over https (fastify's `request.protocol`, see trustProxy). */
  readonly cookieSecure: boolean | null;
  /**
   * API_TRUST_PROXY: fastify's `trustProxy` (the api behind a TLS-terminating proxy): `request.protocol` and
   * `request.host` then come from X-Forwarded-Proto/-Host, for the cookie's Secure flag and the forms' origin check.
   */
  readonly trustProxy: boolean;
  /** The built bundle's directory; null: packages/dashboard/dist (DASHBOARD_ASSETS_DIR). */
  readonly assetsDir: string | null;
}

const secret = z
  .string()
  .trim()
  .min(
    MIN_LINK_SECRET_LENGTH,
    `must be at least ${MIN_LINK_SECRET_LENGTH} characters (e.g. openssl rand -base64 32)`,
  )
  .optional();

const envSchema = z.object({
  DASHBOARD_SESSION_SECRET: secret,
  DASHBOARD_SESSION_TTL_SECONDS: intVar(60, 30 * 86_400).default(8 * 3600),
  DASHBOARD_LINK_SESSION_TTL_SECONDS: intVar(60, 30 * 86_400).default(3600),
  DASHBOARD_LINK_SECRET: secret,
  API_TRUST_PROXY: boolVar({ aliases: true }).default(false),
  DASHBOARD_ASSETS_DIR: z.string().trim().min(1).optional(),
  DASHBOARD_COOKIE_SECURE: boolVar({ aliases: true }).optional(),
});

/** The dashboard's variables (part of the api's configuration); the problems are reported with the api's. */
export function readDashboardEnv(
  env: NodeJS.ProcessEnv,
): { ok: true; config: DashboardConfig } | { ok: false; problems: readonly string[] } {
  const parsed = readEnv(envSchema, env);
  if (!parsed.ok) return { ok: false, problems: parsed.problems };
  const e = parsed.data;
  return {
    ok: true,
    config: Object.freeze({
      sessionSecret: e.DASHBOARD_SESSION_SECRET ?? null,
      sessionTtlSeconds: e.DASHBOARD_SESSION_TTL_SECONDS,
      linkSessionTtlSeconds: e.DASHBOARD_LINK_SESSION_TTL_SECONDS,
      linkSecret: e.DASHBOARD_LINK_SECRET ?? null,
      cookieSecure: e.DASHBOARD_COOKIE_SECURE ?? null,
      trustProxy: e.API_TRUST_PROXY,
      assetsDir: e.DASHBOARD_ASSETS_DIR ?? null,
    }),
  };
}
