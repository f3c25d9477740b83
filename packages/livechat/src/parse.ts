import { LiveChatParseError } from './errors.js';
import type { DeliveryFacts } from './event-factory.js';
import { readEnvelope } from './envelope.js';
import { EventBudget, checkDepth, resolveParseLimits } from './limits.js';
import type { ChatDomainEvent, ParseContext } from './types.js';
import { parseV2Webhook } from './v2.js';
import { parseV3Webhook } from './v3.js';

/**
 * Turns one LiveChat webhook body (v2 `event_type` or v3.x `action`, already JSON-parsed) into domain events,
 * in the order the facts happened within the body (thread start, customer, messages, tags, close).
 *
 * Only the discriminator is required (`readEnvelope`'s rule: `action` or `event_type`, never both); every other field is optional and unknown fields are ignored. An unknown
 * action yields one `unrecognised_webhook` event, not an error.
 *
 * Cost is linear in the body's size; the output is bounded by `context.limits` (see `ParseLimits`), and a body over
 * a limit is refused before the expensive work.
 *
 * @throws LiveChatParseError `LIVECHAT_NOT_AN_OBJECT`, `LIVECHAT_DISCRIMINATOR_MISSING`,
 *   `LIVECHAT_DISCRIMINATOR_AMBIGUOUS`, `LIVECHAT_TENANT_UNKNOWN`,
 *   and over a limit `LIVECHAT_TOO_MANY_EVENTS`, `LIVECHAT_TOO_MANY_THREADS`, `LIVECHAT_TOO_MANY_USERS`,
 *   `LIVECHAT_TOO_DEEP`. Any other error is a bug of the parser.
 */
export function parseWebhook(body: unknown, context: ParseContext): ChatDomainEvent[] {
  const envelope = readEnvelope(body);
  const { format, action } = envelope;
  const tenant = envelope.tenant ?? nonEmpty(context.tenantHint);
  if (tenant === null) {
    throw new LiveChatParseError(
      'LIVECHAT_TENANT_UNKNOWN',
      'the body names no organization_id/license_id and the context gives no tenant hint',
      { details: { discriminator: action } },
    );
  }
  const limits = resolveParseLimits(context.limits);
  checkDepth(body, limits);
  const delivery: DeliveryFacts = {
    raw_event_id: context.rawEventId,
    tenant,
    received_at: context.receivedAtMicros,
    source_format: format,
    api_version: format === 'v3' ? nonEmpty(context.apiVersion) : '2',
    limits,
    budget: new EventBudget(limits),
  };
  if (format === 'v3') return parseV3Webhook(envelope.body, action, delivery);
  return parseV2Webhook(envelope.body, action, delivery);
}

function nonEmpty(value: string | null | undefined): string | null {
  return typeof value === 'string' && value !== '' ? value : null;
}
