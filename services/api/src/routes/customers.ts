import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { ApiDeps } from '../deps.js';
import { ApiError } from '../errors.js';
import { wantsCsv } from '../http/csv.js';
import { pageQuery } from '../http/pagination.js';
import { defineRoute } from '../http/route.js';
import { chatPage, customer } from '../http/schemas.js';
import { readCustomer } from '../queries/detail.js';
import { answerChatList } from './chats.js';

const customerParams = z.object({
  customer_id: z
    .string()
    .min(1)
    .max(200)
    .regex(/^[A-Za-z0-9_.:@+-]+$/, 'must be a customer id')
    .describe('The customer id (v3: a UUID)'),
});

export function registerCustomerRoutes(app: FastifyInstance, deps: ApiDeps): void {
  defineRoute(
    app,
    deps,
    {
      url: '/v1/customers/:customer_id',
      operationId: 'getCustomer',
      summary: 'A customer',
      description:
        "The customer as LiveChat last described them, with how many chats they had and when. 404 when the key's " +
        'tenant has no such customer.',
      tag: 'customers',
      params: customerParams,
      response: customer,
    },
    async (request, _reply, { params }) => {
      wantsCsv(request, false);
      const row = await readCustomer(deps, request.principal.tenant, params.customer_id);
      if (row === null) throw new ApiError('API_NOT_FOUND', `no customer ${params.customer_id}`);
      return row;
    },
  );

  defineRoute(
    app,
    deps,
    {
      url: '/v1/customers/:customer_id/chats',
      operationId: 'listCustomerChats',
      summary: "A customer's chats, newest first",
      description:
        'The chat summaries of one customer, paged like /v1/chats; `Accept: text/csv` streams them all. 404 when ' +
        "the key's tenant has no such customer.",
      tag: 'customers',
      params: customerParams,
      query: z.object({ ...pageQuery }),
      response: chatPage,
      csv: true,
    },
    async (request, reply, { params, query }) => {
      const tenant = request.principal.tenant;
      if ((await readCustomer(deps, tenant, params.customer_id)) === null)
        throw new ApiError('API_NOT_FOUND', `no customer ${params.customer_id}`);
      return answerChatList(
        deps,
        request,
        reply,
        { customerId: params.customer_id },
        query,
        'customer-chats.csv',
      );
    },
  );
}
