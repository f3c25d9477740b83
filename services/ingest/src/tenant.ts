import type { TenantSource } from '@livechat-pipeline/events';
import { IngestError } from './errors.js';

const LABEL = /^[A-Za-z0-9._-]{1,128}$/;

/** Validates the `:tenant` label of `POST /webhooks/livechat/:tenant`. */
export function parseTenantLabel(label: string | undefined): string | null {
  if (label === undefined) return null;
  if (!LABEL.test(label)) {
    throw new IngestError(
      'INGEST_INVALID_TENANT_LABEL',
      'the tenant label in the path must be 1-128 characters of A-Z a-z 0-9 . _ -',
    );
  }
  return label;
}

export interface ResolvedTenant {
  readonly tenant: string | null;
  readonly source: TenantSource;
}

/**
 * The one tenant of a delivery: the body's organization_id / license_id when present (the id LiveChat itself
 * uses, so the same tenant gets the same keys whichever URL it posts to), else the URL's label, else none.
 * Its credentials are the only ones checked and the record is stored under it. A body and a path that name
 * different tenants are refused (INGEST_TENANT_MISMATCH), never resolved in favour of either.
 */
export function resolveTenant(bodyTenant: string | null, pathTenant: string | null): ResolvedTenant {
  if (bodyTenant !== null) {
    if (pathTenant !== null && pathTenant !== bodyTenant) {
      throw new IngestError(
        'INGEST_TENANT_MISMATCH',
        "the body's organization_id / license_id and the tenant label in the path name different tenants",
      );
    }
    return { tenant: bodyTenant, source: 'body' };
  }
  if (pathTenant !== null) return { tenant: pathTenant, source: 'path' };
  return { tenant: null, source: 'none' };
}
