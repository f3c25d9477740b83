/** The one `tenant` label value of every delivery whose tenant is not registered (or that names none). */
export const UNREGISTERED_TENANT = '_unregistered';

/**
 * The `tenant` label of `ingest_tenant_webhooks_total`. Only registered tenants (a bounded set an operator or the
 * app's install flow creates) get their own series; a tenant id taken from a body accepted with a global secret,
 * or none at all, is one bucket, so nothing a sender writes can grow the metric's cardinality.
 */
export function tenantMetricLabel(
  tenant: string | null,
  isRegistered: ((tenant: string) => boolean) | undefined,
): string {
  return tenant !== null && isRegistered?.(tenant) === true ? tenant : UNREGISTERED_TENANT;
}
