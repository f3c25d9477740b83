export { AgentChatClient } from './client.js';
export type { AgentApiEvent, AgentChatClientOptions } from './client.js';
export { AGENT_API_ERROR_CODES, AgentApiError, codeForType, isAgentApiError } from './errors.js';
export type { AgentApiErrorCode } from './errors.js';
export { archiveTime, isArchiveRow, walkArchives } from './walk.js';
export type { ArchivePage, ArchiveRow, WalkStart } from './walk.js';
