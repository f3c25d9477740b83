import { scheduleDeliveries, type Delivery } from './delivery.js';
import { expectedChats, type ExpectedChat } from './expected.js';
import { generateChats } from './generate.js';
import type { SimulatedChat, SimulatedTenant } from './model.js';
import { renderV2 } from './render-v2.js';
import { renderV3 } from './render-v3.js';
import type { WebhookFormat } from './rendered.js';

export interface SimulateTrafficOptions {
  readonly seed: number;
  readonly chats: number;
  readonly format: WebhookFormat;
  /** Share of webhooks delivered more than once. Default 0.1. */
  readonly duplicateRate?: number;
  /** Share of deliveries overtaken by later ones. Default 0.1. */
  readonly reorderRate?: number;
  /** How far a late delivery can fall behind. 0 turns reordering off. Default 3. */
  readonly reorderWindow?: number;
  /** v3 `secret_key`. Default: DEFAULT_V3_SECRET_KEY (a canary). */
  readonly secretKey?: string;
  /** v2 `token`. Default: DEFAULT_V2_TOKEN (a canary). */
  readonly v2Token?: string;
  readonly startAt?: Date;
  /** Default: one tenant derived from the seed. */
  readonly tenants?: readonly SimulatedTenant[];
}

export interface SimulatedTraffic {
  /** In arrival order, duplicates and reordering included. */
  readonly deliveries: Delivery[];
  /** One per chat, in chat start order. */
  readonly expected: ExpectedChat[];
  /** The model behind both, for tests that need more than the expected facts. */
  readonly chats: SimulatedChat[];
}

/** Generates chats, renders them in one format and delivers them the way LiveChat does. */
export function simulateTraffic(options: SimulateTrafficOptions): SimulatedTraffic {
  const chats = generateChats({
    seed: options.seed,
    chats: options.chats,
    ...(options.startAt ? { startAt: options.startAt } : {}),
    ...(options.tenants ? { tenants: options.tenants } : {}),
  });
  const webhooks =
    options.format === 'v3'
      ? renderV3(chats, options.secretKey === undefined ? {} : { secretKey: options.secretKey })
      : renderV2(chats, options.v2Token === undefined ? {} : { token: options.v2Token });
  const deliveries = scheduleDeliveries(webhooks, {
    seed: options.seed,
    ...(options.duplicateRate === undefined ? {} : { duplicateRate: options.duplicateRate }),
    ...(options.reorderRate === undefined ? {} : { reorderRate: options.reorderRate }),
    ...(options.reorderWindow === undefined ? {} : { reorderWindow: options.reorderWindow }),
  });
  return { deliveries, expected: expectedChats(chats), chats };
}
