import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { isPrivacyError, runErasure } from '@livechat-pipeline/privacy';
import type { ApiDeps } from '../deps.js';
import { ApiError } from '../errors.js';
import { defineAdminPostRoute } from '../http/route.js';

const requestId = z
  .string()
  .min(1)
  .max(200)
  .regex(/^[A-Za-z0-9_.:-]+$/, 'must be 1-200 of [A-Za-z0-9_.:-]')
  .describe('Makes the call idempotent: the same id again returns the first counts (`already_done: true`)');

const erasureBody = z
  .object({
    customer_id: z.string().trim().min(1).max(256).optional().describe("The customer's LiveChat id"),
    email: z
      .string()
      .trim()
      .min(3)
      .max(320)
      .regex(/^[^\s@]+@[^\s@]+$/, 'must be an e-mail address')
      .optional()
      .describe("The customer's e-mail (matched by its HMAC, case-insensitively)"),
    request_id: requestId.optional(),
  })
  .strict()
  .refine((b) => (b.customer_id === undefined) !== (b.email === undefined), {
    message: 'exactly one of customer_id or email is required',
  });

const erasureAnswer = z.object({
  request_id: z.string().describe('The request id (generated when none was sent): send it again to retry'),
  chats: z.number().int().describe("The customer's chats found and erased"),
  keys_erased: z.number().int().describe('Data keys crypto-shredded by this request'),
  tombstones_created: z.number().int(),
  customer_links_deleted: z.number().int(),
  already_done: z
    .boolean()
    .describe('True when this request id was done before: the counts are those of its first run'),
  projections: z
    .record(z.string(), z.number().int())
    .describe('Rows each projection (transcripts, analytics, crm) removed or anonymised in this run'),
});

export function registerAdminRoutes(app: FastifyInstance, deps: ApiDeps): void {
  defineAdminPostRoute(
    app,
    deps,
    {
      url: '/v1/admin/erasures',
      operationId: 'eraseCustomer',
      summary: "Erase a customer of the key's tenant everywhere (admin key)",
      description:
        "Finds the customer's chats (by customer id, or by e-mail), crypto-shreds their data keys (the log keeps " +
        'only ciphertext nobody can read any more), erases them from every projection and writes an audit row ' +
        '(who, when, counts; never the customer id or e-mail). The same `request_id` again is harmless. HubSpot ' +
        'data the CRM sync created is queued for deletion; the contact itself must be erased in HubSpot (README).',
      tag: 'admin',
      body: erasureBody,
      response: erasureAnswer,
      status: 200,
    },
    async (request, body) => {
      if (deps.erasure === null)
        throw new ApiError(
          'API_PRIVACY_OFF',
          'privacy is off (the api runs without PRIVACY_KEYS): nothing to erase',
        );
      // made here when absent, so that an incomplete erasure can name the id to send again
      const requestId = body.request_id ?? randomUUID();
      try {
        const outcome = await runErasure(deps.erasure, {
          tenantId: request.principal.tenant,
          subject: body.customer_id !== undefined ? { customerId: body.customer_id } : { email: body.email! },
          requestId,
          actor: `api-key:${request.principal.keyId}`,
        });
        request.log.info(
          { request_id: outcome.requestId, chats: outcome.chats, already_done: outcome.alreadyDone },
          'erasure done',
        );
        return {
          request_id: outcome.requestId,
          chats: outcome.chats,
          keys_erased: outcome.keysErased,
          tombstones_created: outcome.tombstonesCreated,
          customer_links_deleted: outcome.customerLinksDeleted,
          already_done: outcome.alreadyDone,
          projections: outcome.projections,
        };
      } catch (error) {
        if (!isPrivacyError(error)) throw error;
        if (error.code === 'PRIVACY_INVALID_ARGUMENT') throw new ApiError('API_BAD_BODY', error.message);
        if (error.code === 'PRIVACY_PROJECTION_ERASE_FAILED') {
          // Postgres's text names schemas and functions: the log has it, the client gets the projection and the id
          request.log.warn(
            { request_id: requestId, code: error.code, message: error.message },
            'erasure incomplete: a projection step failed',
          );
          const projection = /projection (\w+)/.exec(error.message)?.[1] ?? 'a projection';
          throw new ApiError(
            'API_ERASURE_INCOMPLETE',
            `erasure ${requestId}: the keys are erased, but ${projection} could not be erased yet; send the same request_id again`,
            { cause: error },
          );
        }
        throw new ApiError('API_UNAVAILABLE', `the key store: ${error.message}`, { cause: error });
      }
    },
  );
}
