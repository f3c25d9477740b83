import type { IncomingMessage, ServerResponse } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { validAccessToken } from './accounts.js';
import { webhookId } from './ids.js';
import { basicCredentials, bearerToken, parseParams, readBody, sendJson } from './http-util.js';
import type { RegisteredWebhook } from './state.js';
import { WEBHOOK_NAMES_V36 } from './webhook-names.js';
import type { FakeWorld } from './world.js';

const LIMIT_PER_ACTION = 3;

type ApiErrorType =
  | 'authentication'
  | 'authorization'
  | 'validation'
  | 'not_found'
  | 'too_many_requests'
  | 'internal'
  | 'limit_reached'
  | 'service_unavailable';

class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly type: ApiErrorType,
    message: string,
  ) {
    super(message);
  }
}

export interface Caller {
  readonly kind: 'bearer' | 'pat' | 'none';
  readonly organizationId: string | null;
  readonly clientId: string | null;
  readonly scopes: readonly string[];
}

const SCOPES: Record<string, string | null> = {
  register_webhook: 'webhooks.configuration:rw',
  list_webhooks: 'webhooks.configuration:rw',
  unregister_webhook: 'webhooks.configuration:rw',
  list_webhook_names: null,
  enable_license_webhooks: 'webhooks.state:rw',
  disable_license_webhooks: 'webhooks.state:rw',
  get_license_webhooks_state: 'webhooks.state:ro',
};

export function hasScope(scopes: readonly string[], needed: string): boolean {
  if (scopes.includes(needed)) return true;
  return needed.endsWith(':ro') && scopes.includes(needed.replace(/:ro$/, ':rw'));
}

export function callerOf(world: FakeWorld, req: IncomingMessage): Caller | null {
  const header = req.headers.authorization;
  if (header === undefined) return { kind: 'none', organizationId: null, clientId: null, scopes: [] };
  const bearer = bearerToken(header);
  if (bearer !== null) {
    const at = validAccessToken(world, bearer);
    return at === undefined
      ? null
      : {
          kind: 'bearer',
          organizationId: at.account.organizationId,
          clientId: at.clientId,
          scopes: at.scopes,
        };
  }
  const basic = basicCredentials(header);
  if (basic !== null) {
    const pat = (world.options.pats ?? []).find((p) => p.accountId === basic[0] && p.token === basic[1]);
    return pat === undefined
      ? null
      : { kind: 'pat', organizationId: pat.organizationId, clientId: null, scopes: pat.scopes };
  }
  return null;
}

/** owner_client_id must be an app owned by the caller's organization (or, with a Bearer token, the token's own app). */
function checkOwner(world: FakeWorld, caller: Caller, ownerClientId: unknown): string {
  if (typeof ownerClientId !== 'string' || ownerClientId === '')
    throw new ApiError(400, 'validation', '`owner_client_id` is required');
  const client = world.client(ownerClientId);
  const owns =
    client !== undefined &&
    (client.ownerOrganizationId === caller.organizationId || caller.clientId === ownerClientId);
  if (!owns) throw new ApiError(403, 'authorization', '`owner_client_id` is not owned by your organization');
  return ownerClientId;
}

function publicView(w: RegisteredWebhook) {
  return {
    id: w.id,
    url: w.url,
    description: w.description,
    action: w.action,
    filters: w.filters,
    additional_data: w.additional_data,
    owner_client_id: w.owner_client_id,
    type: w.type,
  };
}

function handle(world: FakeWorld, method: string, caller: Caller, p: Record<string, unknown>): unknown {
  switch (method) {
    case 'list_webhook_names':
      return WEBHOOK_NAMES_V36;
    case 'register_webhook': {
      const owner = checkOwner(world, caller, p['owner_client_id']);
      const { action, secret_key: secret, url, type } = p;
      if (typeof action !== 'string') throw new ApiError(400, 'validation', '`action` is required');
      const name = WEBHOOK_NAMES_V36.find((n) => n.action === action);
      if (name === undefined) throw new ApiError(400, 'validation', `unknown action \`${action}\``);
      if (typeof secret !== 'string' || secret === '')
        throw new ApiError(400, 'validation', '`secret_key` is required');
      if (typeof url !== 'string' || !/^https?:\/\//.test(url))
        throw new ApiError(400, 'validation', '`url` must be an http(s) URL');
      if (url.length > 500) throw new ApiError(400, 'validation', '`url` is longer than 500 characters');
      if (type !== 'license' && type !== 'bot')
        throw new ApiError(400, 'validation', '`type` must be license or bot');
      const filters = (p['filters'] ?? {}) as Record<string, unknown>;
      if (typeof filters !== 'object' || filters === null || Array.isArray(filters))
        throw new ApiError(400, 'validation', '`filters` must be an object');
      for (const f of Object.keys(filters))
        if (!name.filters.includes(f))
          throw new ApiError(400, 'validation', `filter \`${f}\` is not available for \`${action}\``);
      const additional = p['additional_data'] ?? [];
      if (
        !Array.isArray(additional) ||
        additional.some((a) => typeof a !== 'string' || !name.additional_data.includes(a))
      ) {
        throw new ApiError(
          400,
          'validation',
          `\`additional_data\` has values not available for \`${action}\``,
        );
      }
      const same = [...world.webhooks.values()].filter(
        (w) => w.owner_client_id === owner && w.action === action && w.type === type,
      );
      if (same.length >= LIMIT_PER_ACTION)
        throw new ApiError(
          400,
          'limit_reached',
          `webhooks limit for action \`${action}\` reached (${LIMIT_PER_ACTION})`,
        );
      const id = webhookId();
      world.webhooks.set(id, {
        id,
        url,
        description: typeof p['description'] === 'string' ? p['description'] : '',
        action,
        secret_key: secret,
        filters,
        additional_data: additional as string[],
        owner_client_id: owner,
        type,
        createdAt: world.now(),
      });
      return { id };
    }
    case 'list_webhooks': {
      const owner = checkOwner(world, caller, p['owner_client_id']);
      return [...world.webhooks.values()].filter((w) => w.owner_client_id === owner).map(publicView);
    }
    case 'unregister_webhook': {
      const owner = checkOwner(world, caller, p['owner_client_id']);
      const w = typeof p['id'] === 'string' ? world.webhooks.get(p['id']) : undefined;
      if (w === undefined || w.owner_client_id !== owner)
        throw new ApiError(404, 'not_found', 'webhook not found');
      world.webhooks.delete(w.id);
      return {};
    }
    case 'enable_license_webhooks':
    case 'disable_license_webhooks':
    case 'get_license_webhooks_state': {
      const owner = p['owner_client_id'] ?? caller.clientId;
      if (caller.kind === 'pat' && p['owner_client_id'] === undefined)
        throw new ApiError(400, 'validation', '`owner_client_id` is required with a PAT');
      const clientId = checkOwner(world, caller, owner);
      const key = `${clientId}/${caller.organizationId ?? ''}`;
      if (method === 'get_license_webhooks_state')
        return { license_webhooks_enabled: world.licenseWebhooksState.get(key) ?? true };
      world.licenseWebhooksState.set(key, method === 'enable_license_webhooks');
      return {};
    }
    default:
      throw new ApiError(404, 'not_found', `unknown method \`${method}\``);
  }
}

/** POST /<version>/configuration/action/<method> */
export async function configurationApi(
  world: FakeWorld,
  method: string,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const raw = await readBody(req);
  const record = (status: number, auth: Caller['kind'], fault?: string) =>
    world.calls.push({
      path: `configuration/action/${method}`,
      method,
      auth,
      status,
      ...(fault === undefined ? {} : { fault }),
    });
  const fault = world.faults.next(method);
  if (fault?.kind === 'status' && fault.afterEffect !== true) {
    record(fault.status, 'none', `status ${fault.status}`);
    const headers: Record<string, string> =
      fault.retryAfterSeconds === undefined ? {} : { 'retry-after': String(fault.retryAfterSeconds) };
    const type: ApiErrorType =
      fault.status === 429 ? 'too_many_requests' : fault.status === 500 ? 'internal' : 'service_unavailable';
    return sendJson(res, fault.status, { error: { type, message: 'injected fault' } }, headers);
  }
  if (fault?.kind === 'delay') await sleep(fault.ms);
  const caller = callerOf(world, req);
  if (caller === null) {
    record(401, 'none');
    return sendJson(res, 401, { error: { type: 'authentication', message: 'Invalid access token' } });
  }
  const needed = SCOPES[method];
  if (needed === undefined) {
    record(404, caller.kind);
    return sendJson(res, 404, { error: { type: 'not_found', message: `unknown method \`${method}\`` } });
  }
  if (needed !== null && caller.kind === 'none') {
    record(401, caller.kind);
    return sendJson(res, 401, { error: { type: 'authentication', message: 'Missing access token' } });
  }
  if (needed !== null && !hasScope(caller.scopes, needed)) {
    record(403, caller.kind);
    return sendJson(res, 403, { error: { type: 'authorization', message: `Scope ${needed} is required` } });
  }
  const params = parseParams(raw, 'application/json');
  if (params === null) {
    record(400, caller.kind);
    return sendJson(res, 400, { error: { type: 'validation', message: 'body must be a JSON object' } });
  }
  try {
    const result = handle(world, method, caller, params);
    if (fault?.kind === 'status') {
      record(fault.status, caller.kind, `status ${fault.status} after effect`);
      return sendJson(res, fault.status, { error: { type: 'internal', message: 'injected fault' } });
    }
    record(200, caller.kind, fault?.kind === 'delay' ? `delay ${fault.ms}` : undefined);
    sendJson(res, 200, result);
  } catch (err) {
    if (!(err instanceof ApiError)) throw err;
    record(err.status, caller.kind);
    sendJson(res, err.status, { error: { type: err.type, message: err.message } });
  }
}
