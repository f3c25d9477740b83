import type { RegisteredWebhook } from './state.js';

export interface DeliveryResult {
  readonly webhookId: string;
  readonly status: number;
  readonly body: string;
}

/** The v3.6 envelope LiveChat posts for a license webhook (SPEC §3.1). */
export function v36Envelope(
  webhook: RegisteredWebhook,
  input: { organizationId: string; payload: unknown; additionalData?: Record<string, unknown> },
) {
  return {
    webhook_id: webhook.id,
    secret_key: webhook.secret_key,
    action: webhook.action,
    organization_id: input.organizationId,
    payload: input.payload,
    additional_data: input.additionalData ?? {},
  };
}

/** POSTs JSON the way LiveChat does (Content-Type application/json, ~10 s timeout). Userinfo in the URL becomes Basic auth. */
export async function postJson(
  target: string,
  body: unknown,
  timeoutMs = 10_000,
): Promise<{ status: number; body: string }> {
  const url = new URL(target);
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    'user-agent': 'LiveChat-Webhooks/fake',
  };
  if (url.username !== '' || url.password !== '') {
    const pair = `${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`;
    headers['authorization'] = `Basic ${Buffer.from(pair, 'utf8').toString('base64')}`;
    url.username = '';
    url.password = '';
  }
  const res = await fetch(url, {
    method: 'POST',
    headers,
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(timeoutMs),
  });
  return { status: res.status, body: await res.text() };
}

export type LifecycleEvent =
  | 'application_installed'
  | 'application_uninstalled'
  | 'payment_trialstarted'
  | 'payment_activated'
  | 'payment_collected'
  | 'payment_cancelled';

/** The camelCase app lifecycle body (SPEC §3.9). */
export function lifecycleBody(input: {
  event: LifecycleEvent;
  clientId: string;
  licenseId: number;
  organizationId: string;
  applicationId?: string;
  userId?: string;
  payload?: Record<string, unknown>;
}) {
  const applicationID = input.applicationId ?? 'aPbNnrwZg';
  return {
    applicationID,
    applicationName: 'livechat-pipeline (fake)',
    clientID: input.clientId,
    date: new Date().toISOString().replace(/\.\d{3}Z$/, '+00:00'),
    event: input.event,
    licenseID: input.licenseId,
    organizationID: input.organizationId,
    payload: input.payload ?? { applicationID },
    userID: input.userId ?? '40c66719-96d1-4cc9-8e81-01c084915fa6',
  };
}
