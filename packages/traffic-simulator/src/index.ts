export { simulateTraffic, type SimulateTrafficOptions, type SimulatedTraffic } from './simulate.js';
export { DEFAULT_START_AT, generateChats, simulatedTenant, type GenerateChatsOptions } from './generate.js';
export {
  DEFAULT_CLIENT_ID,
  DEFAULT_V3_SECRET_KEY,
  defaultWebhookId,
  renderAgentStatusesV3,
  renderV3,
  reportSystemEventsV3,
  type RenderV3Options,
  type SystemEventV3,
} from './render-v3.js';
export {
  archiveGetChat,
  renderArchive,
  type RenderArchiveOptions,
  type SimulatedArchiveThread,
  type V36ArchiveChat,
  type V36ArchiveThread,
} from './render-archive.js';
export { agentStatuses, withReportFacts } from './report-facts.js';
export { expectedThreadFacts, type ExpectedThreadFacts } from './expected-report.js';
export {
  expectedAgentDaily,
  expectedDaily,
  expectedHourly,
  expectedTagDaily,
  percentileCont,
  rounded,
  sortRows,
  wilsonScore,
  type AgentDailyRow,
  type DailyRow,
  type TagDailyRow,
} from './expected-aggregates.js';
export { DEFAULT_V2_TOKEN, renderV2, type RenderV2Options } from './render-v2.js';
export {
  DEFAULT_DUPLICATE_RATE,
  DEFAULT_REORDER_RATE,
  DEFAULT_REORDER_WINDOW,
  scheduleDeliveries,
  type Delivery,
  type DeliveryOptions,
} from './delivery.js';
export { webhookKind, type RenderedWebhook, type WebhookFormat } from './rendered.js';
export {
  expectedChat,
  expectedChats,
  type ExpectedAuthorKind,
  type ExpectedChat,
  type ExpectedClosedBy,
  type ExpectedMessage,
} from './expected.js';
export {
  finalTags,
  tagsAt,
  type MessageVisibility,
  type SimulatedAgent,
  type SimulatedAgentStatus,
  type SimulatedAuthor,
  type SimulatedChat,
  type SimulatedCloser,
  type SimulatedCustomer,
  type SimulatedMessage,
  type SimulatedPrechatSurvey,
  type SimulatedQueue,
  type SimulatedRating,
  type SimulatedReportFacts,
  type SimulatedTransfer,
  type SimulatedTagChange,
  type SimulatedTenant,
} from './model.js';
export { epochSeconds, formatRfc3339Micros, microsFromDate, type EpochMicros } from './time.js';
export { Random, hashToSeed, mulberry32 } from './prng.js';
export { TrafficSimulatorError, type TrafficSimulatorErrorCode } from './errors.js';
export type * from './v3-body.js';
export type * from './v2-body.js';
export {
  expectedTagsOf,
  finalTagsKnowable,
  generateTagHistories,
  tagHistoryDeliveries,
  type TagChange,
  type TagDelivery,
  type TagHistory,
  type TagRead,
} from './tag-histories.js';
