import type { FastifyInstance } from 'fastify';
import { errorBody, toJsonSchema, type JsonSchema, type RouteDoc } from './route.js';

const ERROR_RESPONSES: Record<string, string> = {
  '400':
    'A bad parameter or body (code API_BAD_PARAMETER, API_BAD_CURSOR or API_BAD_BODY; the message names it)',
  '401': 'Missing or invalid credentials (API_UNAUTHORIZED)',
  '403': 'The key is not an admin key (API_FORBIDDEN)',
  '404': "No such resource in the key's tenant (API_NOT_FOUND)",
  '406': 'Neither JSON nor (list endpoints) CSV is acceptable (API_NOT_ACCEPTABLE)',
  '503': 'Postgres unavailable or too slow (API_UNAVAILABLE, retry later)',
};

/** Fastify's `/:name` to OpenAPI's `/{name}`. */
const openApiPath = (url: string): string => url.replace(/:([A-Za-z0-9_]+)/g, '{$1}');

function parameters(schema: JsonSchema | undefined, where: 'path' | 'query'): unknown[] {
  if (schema === undefined) return [];
  const properties = (schema['properties'] ?? {}) as Record<string, JsonSchema>;
  const required = new Set((schema['required'] ?? []) as string[]);
  return Object.entries(properties).map(([name, property]) => {
    const { description, ...rest } = property;
    return {
      name,
      in: where,
      required: where === 'path' || required.has(name),
      ...(typeof description === 'string' ? { description } : {}),
      schema: rest,
    };
  });
}

/** The OpenAPI 3.1 document of every route defined with defineRoute on `app`. */
export function buildOpenApiDocument(routes: readonly RouteDoc[], version: string): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const route of routes) {
    const content: Record<string, unknown> = { 'application/json': { schema: route.response } };
    if (route.csv)
      content['text/csv'] = {
        schema: { type: 'string' },
        description: 'With `Accept: text/csv`: every row matching the filters (no pagination), streamed',
      };
    const ok = route.status ?? 200;
    const responses: Record<string, unknown> = {
      [String(ok)]: { description: ok === 202 ? 'Accepted' : 'OK', content },
    };
    for (const [status, description] of Object.entries(ERROR_RESPONSES)) {
      if (status === '406' && !route.csv) continue;
      if (status === '403' && route.admin !== true) continue;
      if (status === '404' && route.method === 'POST') continue;
      responses[status] = {
        description,
        content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
      };
    }
    (paths[openApiPath(route.url)] ??= {})[route.method.toLowerCase()] = {
      operationId: route.operationId,
      summary: route.summary,
      description: route.description,
      tags: [route.tag],
      parameters: [...parameters(route.params, 'path'), ...parameters(route.querystring, 'query')],
      ...(route.body === undefined
        ? {}
        : { requestBody: { required: true, content: { 'application/json': { schema: route.body } } } }),
      responses,
    };
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'livechat-pipeline API',
      version,
      description:
        "Chats, transcripts, customers and analytics of one tenant (the API key's). Times are RFC 3339 (UTC). " +
        'Lists are newest first with cursor pagination: pass `next_cursor` back as `cursor` with the same filters.',
    },
    jsonSchemaDialect: 'https://json-schema.org/draft/2020-12/schema',
    security: [{ bearerKey: [] }],
    components: {
      securitySchemes: {
        bearerKey: {
          type: 'http',
          scheme: 'bearer',
          description: 'An API key from `pnpm api-keys create --tenant <id>` (lcp_…)',
        },
      },
      schemas: { Error: toJsonSchema(errorBody) },
    },
    paths,
  };
}

export function registerOpenApiRoutes(app: FastifyInstance, routes: () => readonly RouteDoc[]): void {
  let cached: { json: string; html: string } | null = null;
  const rendered = () => {
    if (cached === null) {
      const document = buildOpenApiDocument(routes(), '1.0.0');
      cached = { json: JSON.stringify(document), html: renderReference(document) };
    }
    return cached;
  };
  app.get('/openapi.json', async (_request, reply) =>
    reply.type('application/json; charset=utf-8').send(rendered().json),
  );
  app.get('/docs', async (_request, reply) => reply.type('text/html; charset=utf-8').send(rendered().html));
}

const escapeHtml = (s: string): string =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

function typeOf(schema: JsonSchema): string {
  if (Array.isArray(schema['anyOf'])) return (schema['anyOf'] as JsonSchema[]).map(typeOf).join(' | ');
  const type = schema['type'];
  const format = typeof schema['format'] === 'string' ? ` (${schema['format'] as string})` : '';
  if (Array.isArray(schema['enum']))
    return (schema['enum'] as unknown[]).map((v) => JSON.stringify(v)).join(' | ');
  if (type === 'array') return `${typeOf((schema['items'] ?? {}) as JsonSchema)}[]`;
  return `${typeof type === 'string' ? type : 'any'}${format}`;
}

/** A self-contained reference page (no script, no CDN) rendered from the OpenAPI document. */
function renderReference(document: Record<string, unknown>): string {
  const paths = document['paths'] as Record<string, Record<string, Record<string, unknown>>>;
  const info = document['info'] as { title: string; description: string };
  const sections: string[] = [];
  const toc: string[] = [];
  for (const [path, methods] of Object.entries(paths)) {
    for (const [method, op] of Object.entries(methods)) {
      const id = String(op['operationId']);
      toc.push(
        `<li><a href="#${escapeHtml(id)}"><code>${method.toUpperCase()} ${escapeHtml(path)}</code></a></li>`,
      );
      const params = (
        op['parameters'] as {
          name: string;
          in: string;
          required: boolean;
          description?: string;
          schema: JsonSchema;
        }[]
      )
        .map(
          (p) =>
            `<tr><td><code>${escapeHtml(p.name)}</code></td><td>${p.in}</td><td>${p.required ? 'yes' : ''}</td><td><code>${escapeHtml(typeOf(p.schema))}</code></td><td>${escapeHtml(p.description ?? '')}</td></tr>`,
        )
        .join('');
      const responses = op['responses'] as Record<
        string,
        { description: string; content: Record<string, { schema: unknown }> }
      >;
      const okStatus = Object.keys(responses).find((s) => s.startsWith('2'))!;
      const ok = responses[okStatus]!;
      sections.push(`<section id="${escapeHtml(id)}">
<h2><code>${method.toUpperCase()} ${escapeHtml(path)}</code></h2>
<p><strong>${escapeHtml(String(op['summary']))}</strong></p>
<p>${escapeHtml(String(op['description']))}</p>
${params === '' ? '' : `<table><thead><tr><th>Parameter</th><th>In</th><th>Required</th><th>Type</th><th>Meaning</th></tr></thead><tbody>${params}</tbody></table>`}
<p>Answers: ${Object.keys(ok.content)
        .map((t) => `<code>${t}</code>`)
        .join(', ')}; errors ${Object.keys(responses)
        .filter((s) => s !== okStatus)
        .map((s) => `<code>${s}</code>`)
        .join(', ')} as <code>{ code, message }</code>.</p>
<details><summary>Response schema (${okStatus}, JSON)</summary><pre>${escapeHtml(JSON.stringify(ok.content['application/json']!.schema, null, 2))}</pre></details>
</section>`);
    }
  }
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(info.title)} reference</title>
<style>
body{font:15px/1.5 system-ui,sans-serif;max-width:60rem;margin:0 auto;padding:1rem;color:#1b1b1b}
code,pre{font-family:ui-monospace,monospace;font-size:13px}pre{background:#f4f4f4;padding:.75rem;overflow:auto}
table{border-collapse:collapse;width:100%}td,th{border:1px solid #ddd;padding:.3rem .5rem;text-align:left;vertical-align:top}
section{border-top:1px solid #ccc;margin-top:1.5rem}
</style></head><body>
<h1>${escapeHtml(info.title)}</h1>
<p>${escapeHtml(info.description)}</p>
<p>Authenticate with <code>Authorization: Bearer &lt;key&gt;</code>. The machine-readable contract is <a href="/openapi.json">/openapi.json</a> (OpenAPI 3.1).</p>
<ul>${toc.join('')}</ul>
${sections.join('\n')}
</body></html>
`;
}
