import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { AppDeps } from '../deps.js';
import { AppError, errorForLog } from '../errors.js';

const body = z.object({
  event: z.string().min(1),
  clientID: z.string().min(1),
  licenseID: z.union([z.number().int(), z.string().regex(/^\d+$/)]).optional(),
  organizationID: z.string().min(1).optional(),
  applicationID: z.string().optional(),
});

const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest();

/** Timing-safe check of `Authorization: Basic` against the configured pair (compared as SHA-256 digests). */
export function basicAuthMatches(
  header: string | undefined,
  expected: { user: string; password: string },
): boolean {
  const want = digest(
    `Basic ${Buffer.from(`${expected.user}:${expected.password}`, 'utf8').toString('base64')}`,
  );
  const got = digest((header ?? '').trim());
  return timingSafeEqual(want, got);
}

/**
 * POST /app/lifecycle: the Developer Console "App webhooks" (SPEC §3.9). They carry no signature, so the URL
 * configured there holds Basic credentials (APP_LIFECYCLE_BASIC_AUTH). Install records the tenant (licence and
 * organization ids); uninstall marks it inactive (its deliveries then get 401 at the ingest), revokes and
 * deletes its tokens and ends its sessions. Other events are acknowledged and ignored.
 */
export function registerLifecycleRoute(app: FastifyInstance, deps: AppDeps): void {
  app.post('/app/lifecycle', async (request, reply) => {
    const expected = deps.config.lifecycleBasicAuth;
    if (expected === null) throw new AppError('APP_NOT_CONFIGURED', 'APP_LIFECYCLE_BASIC_AUTH is not set');
    if (!basicAuthMatches(request.headers.authorization, expected)) {
      reply.header('www-authenticate', 'Basic realm="livechat-app-lifecycle"');
      throw new AppError('APP_UNAUTHENTICATED', 'missing or wrong Basic credentials');
    }
    const parsed = body.safeParse(request.body);
    if (!parsed.success)
      throw new AppError(
        'APP_BAD_REQUEST',
        'not an app lifecycle webhook (event, clientID, licenseID/organizationID)',
      );
    const e = parsed.data;
    const clientId = deps.config.livechat.clientId;
    if (clientId !== '' && e.clientID !== clientId)
      throw new AppError('APP_BAD_REQUEST', "clientID is not this app's client id");
    const licenseId = e.licenseID === undefined ? null : String(e.licenseID);
    const organizationId = e.organizationID ?? null;
    const log = { event: e.event, organization_id: organizationId, license_id: licenseId };

    if (e.event === 'application_installed') {
      if (organizationId === null)
        throw new AppError('APP_BAD_REQUEST', 'application_installed needs organizationID');
      const tenant = await deps.registry.recordInstall({ clientId: e.clientID, organizationId, licenseId });
      request.log.info({ ...log, tenant_id: tenant.id }, 'app installed');
      return reply.send({ ok: true });
    }
    if (e.event === 'application_uninstalled') {
      const tenant = await deps.registry.markUninstalled({ clientId: e.clientID, organizationId, licenseId });
      if (tenant === null) {
        request.log.info(log, 'uninstall of an unknown tenant; nothing to do');
        return reply.send({ ok: true });
      }
      if (deps.oauth !== null) {
        await deps.oauth.tokens
          .revokeAndDelete(tenant.id)
          .catch((err: unknown) => request.log.warn({ err: errorForLog(err) }, 'token revocation failed'));
      } else {
        await deps.registry.deleteTokens(tenant.id);
      }
      request.log.info(
        { ...log, tenant_id: tenant.id },
        'app uninstalled; tenant inactive, tokens revoked and deleted',
      );
      return reply.send({ ok: true });
    }
    request.log.info(log, 'lifecycle event ignored');
    return reply.send({ ok: true, ignored: true });
  });
}
