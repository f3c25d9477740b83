import pg from 'pg';
import type { Logger } from 'pino';
import { anyOfVerifiers, createRegistrySecretVerifier, migrateRegistry } from '@livechat-pipeline/tenant-registry';
import type { IngestConfig } from '../config.js';
import type { WebhookSecretVerifier } from './verifier.js';

export interface IngestVerifier {
  readonly verifier: WebhookSecretVerifier;
  close(): Promise<void>;
}

/**
 * The static secrets, plus — when the LiveChat app's tenant registry is configured — the v3 secrets
 * of its active tenants (a delivery for an uninstalled tenant is refused). The registry's set is
 * reloaded every few seconds; when Postgres is unreachable the last set stays in force.
 */
export async function createIngestVerifier(config: IngestConfig, staticVerifier: WebhookSecretVerifier, logger: Logger): Promise<IngestVerifier> {
  const databaseUrl = config.tenantRegistry.databaseUrl;
  if (databaseUrl === undefined) return { verifier: staticVerifier, close: async () => undefined };
  const pool = new pg.Pool({ connectionString: databaseUrl, max: 2 });
  try {
    // Idempotent and advisory-locked: whichever of app and ingest starts first creates the tables.
    await migrateRegistry(pool);
    const registry = await createRegistrySecretVerifier(pool, {
      refreshMs: config.tenantRegistry.refreshMs,
      recordLastWebhook: true,
      onError: (err) => logger.warn({ err: { message: err.message } }, 'tenant registry refresh failed; keeping the last set'),
    });
    return {
      verifier: anyOfVerifiers(staticVerifier, registry),
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
