import type { AuthorKind } from './types.js';

const BOT_ID = /^[0-9a-f]{32}$/i;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * The author kind a user type names: v3 `customer`/`agent`, v2 `visitor`/`agent`/`supervisor`. A v3 "agent" with a
 * bot-shaped id (32 hex) is a bot: LiveChat lists bots as agents.
 */
export function authorKindFromUserType(userType: string | null, userId: string | null): AuthorKind | null {
  switch (userType) {
    case 'customer':
    case 'visitor':
      return 'customer';
    case 'agent':
    case 'supervisor':
      return userId !== null && BOT_ID.test(userId) ? 'bot' : 'agent';
    case 'bot':
      return 'bot';
    case 'system':
      return 'system';
    default:
      return null;
  }
}

/**
 * The author kind guessed from an id alone, for v3 events that arrive without the chat's user list
 * (`incoming_event`): agents are emails, bots 32 hex, customers UUIDs (SPEC §3.4 "ID shapes", §6.4). A guess by
 * shape, so `unknown` when no shape fits.
 */
export function authorKindFromUserId(userId: string | null): AuthorKind {
  if (userId === null) return 'unknown';
  if (userId.includes('@')) return 'agent';
  if (BOT_ID.test(userId)) return 'bot';
  if (UUID.test(userId)) return 'customer';
  return 'unknown';
}
