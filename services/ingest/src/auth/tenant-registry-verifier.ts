import pg from 'pg';
import type { Logger } from 'pino';
import { anyOfVerifiers, createRegistrySecretVerifier, migrateRegistry } from '@livechat-pipeline/tenant-registry';
import type { IngestConfig } from '../config.js';
import type { AuthSubject as RegistrySubject, SecretVerifier } from '@livechat-pipeline/tenant-registry';
import type { AuthSubject, WebhookSecretVerifier } from './verifier.js';

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
    const combined = anyOfVerifiers(asRegistryVerifier(staticVerifier), registry);
    return {
      verifier: { verify: (credentials, subject) => combined.verify(credentials, { tenant: oneTenant(subject), action: subject.action }) },
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

/**
 * The delivery's one tenant (notes: interface agreed for issue 10, item 1). The agreed subject carries it as
 * `tenant`; the older shape listed candidates (`tenantIds`: body tenant, then path label), and there only a
 * single distinct candidate names a tenant — two different ones are a mismatch and name none, so no registry
 * secret can match.
 */
export function oneTenant(subject: AuthSubject): string | null {
  const s = subject as { readonly tenant?: string | null; readonly tenantIds?: readonly string[] };
  if (s.tenant !== undefined) return s.tenant;
  const distinct = [...new Set(s.tenantIds ?? [])];
  return distinct.length === 1 ? distinct[0]! : null;
}

/** The ingest's own verifier asked with the registry's one-tenant subject. */
function asRegistryVerifier(v: WebhookSecretVerifier): SecretVerifier {
  return {
    verify: (credentials, subject: RegistrySubject) =>
      v.verify(credentials, { tenant: subject.tenant, tenantIds: subject.tenant === null ? [] : [subject.tenant], action: subject.action } as AuthSubject),
  };
}
