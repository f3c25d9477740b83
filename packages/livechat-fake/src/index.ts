export { FakeLiveChat, startFakeLiveChat } from './server.js';
export type { FakeLiveChatOptions } from './world.js';
export type { Fault, FaultPlan } from './faults.js';
export type { DeliveryResult, LifecycleEvent } from './delivery.js';
export { lifecycleBody, v36Envelope } from './delivery.js';
export type { FakeAccount, FakeClient, FakePat, RecordedCall, RegisteredWebhook } from './state.js';
export { WEBHOOK_NAMES_V36 } from './webhook-names.js';
export type { WebhookName } from './webhook-names.js';
export { redirectUriAllowed } from './accounts.js';
