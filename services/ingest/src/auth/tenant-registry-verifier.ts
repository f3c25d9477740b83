import pg from 'pg';
import type { Logger } from 'pino';
import { anyOfVerifiers, createRegistrySecretVerifier } from '@livechat-pipeline/tenant-registry';
import type { IngestConfig } from '../config.js';
import type { AuthSubject as RegistrySubject, SecretVerifier } from '@livechat-pipeline/tenant-registry';
import type { WebhookSecretVerifier } from './verifier.js';

export interface IngestVerifier {
  readonly verifier: WebhookSecretVerifier;
  /** The settings of the tenant registry's pool, when the registry is configured (for checks). */
  readonly registryPoolOptions: Readonly<pg.PoolOptions> | null;
  /** Whether a tenant id is registered: in LIVECHAT_TENANT_SECRETS_FILE or an active tenant of the app's registry. */
  isRegisteredTenant(tenant: string): boolean;
  close(): Promise<void>;
}

/**
 * The tenant registry's pool (INGEST_TENANT_REGISTRY_POOL_SIZE, INGEST_PG_CONNECT_TIMEOUT_MS). Bounded waits: a
 * Postgres that hangs (rather than refusing) must not hold requests or the refresh loop.
 */
export function createTenantRegistryPool(config: IngestConfig, databaseUrl: string): pg.Pool {
  return new pg.Pool({
    connectionString: databaseUrl,
    max: config.tenantRegistry.poolSize,
    connectionTimeoutMillis: config.tenantRegistry.connectTimeoutMs,
    query_timeout: 2_000,
    statement_timeout: 2_000,
  });
}

/**
 * The static secrets, plus — when the LiveChat app's tenant registry is configured — the v3 secrets
 * of its active tenants (a delivery for an uninstalled tenant is refused). The registry's set is
 * reloaded every few seconds; when Postgres is unreachable the last set stays in force.
 */
export async function createIngestVerifier(
  config: IngestConfig,
  staticVerifier: WebhookSecretVerifier,
  logger: Logger,
): Promise<IngestVerifier> {
  const databaseUrl = config.tenantRegistry.databaseUrl;
  const inSecretsFile = (tenant: string): boolean => Object.hasOwn(config.auth.tenants, tenant);
  if (databaseUrl === undefined)
    return {
      verifier: staticVerifier,
      registryPoolOptions: null,
      isRegisteredTenant: inSecretsFile,
      close: async () => undefined,
    };
  const pool = createTenantRegistryPool(config, databaseUrl);
  // an idle connection dropped by Postgres must not crash the ingest (the next query reconnects)
  pool.on('error', (err) =>
    logger.warn({ err: { message: err.message } }, 'tenant registry connection lost'),
  );
  // the same failure is logged once a minute, not at every refresh (e.g. while the app has not migrated yet)
  const logged = new Map<string, number>();
  const onError = (err: Error): void => {
    const now = Date.now();
    if ((logged.get(err.message) ?? -Infinity) > now - 60_000) return;
    if (logged.size > 100) logged.clear();
    logged.set(err.message, now);
    logger.warn(
      { err: { message: err.message.slice(0, 300) } },
      'tenant registry not readable; registry secrets refused, the last set kept',
    );
  };
  try {
    // The app owns the registry's schema and migrations; the ingest only reads it (a role with SELECT on what
    // the verifier reads and UPDATE on tenants.last_webhook_at). Until the app has migrated and granted, the
    // verifier starts empty, refuses registry secrets and retries at every refresh.
    const registry = await createRegistrySecretVerifier(pool, {
      refreshMs: config.tenantRegistry.refreshMs,
      recordLastWebhook: true,
      onError,
    });
    const combined = anyOfVerifiers(asRegistryVerifier(staticVerifier), registry);
    return {
      verifier: combined,
      registryPoolOptions: pool.options,
      isRegisteredTenant: (tenant) => inSecretsFile(tenant) || registry.knowsTenant(tenant),
      async close() {
        await registry.close();
        await pool.end();
      },
    };
  } catch (error) {
    await pool.end().catch(() => undefined);
    throw error;
  }
}

/** The ingest's own verifier asked with the registry's one-tenant subject. */
function asRegistryVerifier(v: WebhookSecretVerifier): SecretVerifier {
  return {
    verify: (credentials, subject: RegistrySubject) =>
      v.verify(credentials, { tenant: subject.tenant, action: subject.action }),
  };
}
