import { scheduleDeliveries, type Delivery } from './delivery.js';
import { expectedChats, type ExpectedChat } from './expected.js';
import { generateChats } from './generate.js';
import { expectedThreadFacts, type ExpectedThreadFacts } from './expected-report.js';
import type { SimulatedAgentStatus, SimulatedChat, SimulatedTenant } from './model.js';
import { renderV2 } from './render-v2.js';
import { renderAgentStatusesV3, renderV3 } from './render-v3.js';
import { agentStatuses } from './report-facts.js';
import { byEmission, type WebhookFormat } from './rendered.js';

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
  /**
   * What the reports need: ratings, queues, transfers, greetings, resumed chats, and (v3) agents' routing
   * statuses; `expectedThreads` then holds each thread's expected facts. Default false.
   */
  readonly reportFacts?: boolean;
}

export interface SimulatedTraffic {
  /** In arrival order, duplicates and reordering included. */
  readonly deliveries: Delivery[];
  /** One per chat, in chat start order. */
  readonly expected: ExpectedChat[];
  /** The model behind both, for tests that need more than the expected facts. */
  readonly chats: SimulatedChat[];
  /** With `reportFacts`: each thread's expected analytics facts, in the format's precision; else empty. */
  readonly expectedThreads: ExpectedThreadFacts[];
  /** With `reportFacts` and v3: the agents' routing status changes sent; else empty. */
  readonly agentStatuses: SimulatedAgentStatus[];
}

/** Generates chats, renders them in one format and delivers them the way LiveChat does. */
export function simulateTraffic(options: SimulateTrafficOptions): SimulatedTraffic {
  const chats = generateChats({
    seed: options.seed,
    chats: options.chats,
    ...(options.startAt ? { startAt: options.startAt } : {}),
    ...(options.tenants ? { tenants: options.tenants } : {}),
    ...(options.reportFacts === true ? { reportFacts: true } : {}),
  });
  const v3Options = options.secretKey === undefined ? {} : { secretKey: options.secretKey };
  const statuses = options.reportFacts === true && options.format === 'v3' ? agentStatuses(chats) : [];
  const webhooks =
    options.format === 'v3'
      ? byEmission([...renderV3(chats, v3Options), ...renderAgentStatusesV3(statuses, v3Options)])
      : renderV2(chats, options.v2Token === undefined ? {} : { token: options.v2Token });
  const deliveries = scheduleDeliveries(webhooks, {
    seed: options.seed,
    ...(options.duplicateRate === undefined ? {} : { duplicateRate: options.duplicateRate }),
    ...(options.reorderRate === undefined ? {} : { reorderRate: options.reorderRate }),
    ...(options.reorderWindow === undefined ? {} : { reorderWindow: options.reorderWindow }),
  });
  const expectedThreads =
    options.reportFacts === true ? chats.map((chat) => expectedThreadFacts(chat, options.format)) : [];
  return { deliveries, expected: expectedChats(chats), chats, expectedThreads, agentStatuses: statuses };
}
