import type { FastifyInstance, FastifyReply, FastifyRequest, RouteShorthandOptions } from 'fastify';
import { z } from 'zod';
import type { ApiDeps } from '../deps.js';
import { ApiError } from '../errors.js';
import type { Principal } from '../keys.js';

/** A JSON schema object as fastify and OpenAPI take it. */
export type JsonSchema = Record<string, unknown>;

/** What the OpenAPI document says about one route: everything comes from the route's own definition. */
export interface RouteDoc {
  readonly method: 'GET' | 'POST';
  readonly url: string;
  readonly operationId: string;
  readonly summary: string;
  readonly description: string;
  readonly tag: string;
  readonly params?: JsonSchema;
  readonly querystring?: JsonSchema;
  readonly response: JsonSchema;
  /** Answers `text/csv` too (a streamed list). */
  readonly csv: boolean;
  /** A POST's JSON body. */
  readonly body?: JsonSchema;
  /** The success status (200 unless said). */
  readonly status?: number;
  /** Needs an admin key (403 otherwise). */
  readonly admin?: boolean;
}

/** Zod → JSON Schema 2020-12 (OpenAPI 3.1's dialect) without `$schema`; fastify's ajv reads it too. */
export function toJsonSchema(schema: z.ZodType, io: 'input' | 'output' = 'output'): JsonSchema {
  const json = z.toJSONSchema(schema, { target: 'draft-2020-12', io, unrepresentable: 'any' }) as JsonSchema;
  delete json['$schema'];
  return json;
}

export const errorBody = z.object({
  code: z.string().describe('A stable code from the README error table, e.g. API_BAD_PARAMETER'),
  message: z.string().describe('What was wrong, for a person'),
});

export type Handler<P, Q> = (
  request: FastifyRequest & { principal: Principal },
  reply: FastifyReply,
  input: { params: P; query: Q },
) => Promise<unknown>;

export interface RouteDefinition<P extends z.ZodObject, Q extends z.ZodObject> {
  readonly url: string;
  readonly operationId: string;
  readonly summary: string;
  readonly description: string;
  readonly tag: string;
  readonly params?: P;
  readonly query?: Q;
  readonly response: z.ZodType;
  readonly csv?: boolean;
}

const routeDocs = new WeakMap<FastifyInstance, RouteDoc[]>();

/** The routes defined so far on `app` (for /openapi.json). */
export function documentedRoutes(app: FastifyInstance): readonly RouteDoc[] {
  return routeDocs.get(app) ?? [];
}

/**
 * Defines an authenticated GET route from zod schemas: fastify validates the path and query with their JSON
 * schema and serialises the 200 answer with the response's, and the same JSON schemas go into /openapi.json.
 * The principal (tenant) is resolved before validation, so an unauthenticated caller learns nothing.
 */
export function defineRoute<P extends z.ZodObject, Q extends z.ZodObject>(
  app: FastifyInstance,
  deps: ApiDeps,
  definition: RouteDefinition<P, Q>,
  handler: Handler<z.output<P>, z.output<Q>>,
): void {
  const params = definition.params ? toJsonSchema(definition.params, 'input') : undefined;
  const querystring = definition.query ? toJsonSchema(definition.query, 'input') : undefined;
  const response = toJsonSchema(definition.response);
  const doc: RouteDoc = {
    method: 'GET',
    url: definition.url,
    operationId: definition.operationId,
    summary: definition.summary,
    description: definition.description,
    tag: definition.tag,
    ...(params ? { params } : {}),
    ...(querystring ? { querystring } : {}),
    response,
    csv: definition.csv ?? false,
  };
  const docs = routeDocs.get(app) ?? [];
  docs.push(doc);
  routeDocs.set(app, docs);

  const options: RouteShorthandOptions = {
    schema: {
      ...(params ? { params } : {}),
      ...(querystring ? { querystring } : {}),
      response: { 200: response },
    },
    onRequest: async (request) => {
      const principal = await deps.auth.authenticate(request);
      if (principal === null) throw new ApiError('API_UNAUTHORIZED', 'missing or invalid credentials');
      request.principal = principal;
    },
  };
  app.get(definition.url, options, async (request, reply) => {
    // fastify's ajv has validated (and coerced) both; zod then applies transforms and defaults once more
    const input = {
      params: (definition.params ?? z.object({})).parse(request.params ?? {}) as z.output<P>,
      query: (definition.query ?? z.object({})).parse(request.query ?? {}) as z.output<Q>,
    };
    return handler(request as FastifyRequest & { principal: Principal }, reply, input);
  });
}

export interface AdminPostDefinition<B extends z.ZodType> {
  readonly url: string;
  readonly operationId: string;
  readonly summary: string;
  readonly description: string;
  readonly tag: string;
  /** The JSON body; a body it refuses is 400 API_BAD_BODY naming the field. */
  readonly body: B;
  readonly response: z.ZodType;
  readonly status: 200 | 201 | 202;
}

/**
 * Defines an authenticated POST route for admin keys only: 401 without valid credentials, 403 API_FORBIDDEN for a
 * key that is not an admin key (both decided before the body is read), then the body parsed by zod (400
 * API_BAD_BODY naming the field) and the answer serialised with the response schema. Documented in /openapi.json.
 */
export function defineAdminPostRoute<B extends z.ZodType>(
  app: FastifyInstance,
  deps: ApiDeps,
  definition: AdminPostDefinition<B>,
  handler: (request: FastifyRequest & { principal: Principal }, body: z.output<B>) => Promise<unknown>,
): void {
  const response = toJsonSchema(definition.response);
  const docs = routeDocs.get(app) ?? [];
  docs.push({
    method: 'POST',
    url: definition.url,
    operationId: definition.operationId,
    summary: definition.summary,
    description: definition.description,
    tag: definition.tag,
    response,
    csv: false,
    body: toJsonSchema(definition.body, 'input'),
    status: definition.status,
    admin: true,
  });
  routeDocs.set(app, docs);

  app.post(
    definition.url,
    {
      schema: { response: { [definition.status]: response } },
      onRequest: async (request) => {
        const principal = await deps.auth.authenticate(request);
        if (principal === null) throw new ApiError('API_UNAUTHORIZED', 'missing or invalid credentials');
        if (!principal.admin || principal.via !== 'key')
          throw new ApiError(
            'API_FORBIDDEN',
            'this call needs an admin API key (pnpm api-keys create --admin)',
          );
        request.principal = principal;
      },
    },
    async (request, reply) => {
      const parsed = definition.body.safeParse(request.body ?? undefined);
      if (!parsed.success) {
        const issue = parsed.error.issues[0];
        const where = issue?.path.join('.') ?? '';
        throw new ApiError(
          'API_BAD_BODY',
          `${where === '' ? 'body' : where}: ${issue?.message ?? 'invalid'}`,
        );
      }
      const answer = await handler(request as FastifyRequest & { principal: Principal }, parsed.data);
      return reply.status(definition.status).send(answer);
    },
  );
}
