import { authorKindFromUserId, authorKindFromUserType } from './authors.js';
import { filledForm } from './forms.js';
import { booleanAt, integerAt, isJsonObject, jsonOrNull, objectAt, objectsAt, stringAt } from './json.js';
import type { JsonObject } from './json.js';
import { rfc3339At } from './time.js';
import type { AuthorKind, ChatMessage, ChatUser, FileAttachment, Visibility } from './types.js';

/** Author kinds by user id, from the chat's user list when the webhook carries one (`incoming_chat`). */
export type KnownUsers = ReadonlyMap<string, AuthorKind>;

const NO_KNOWN_USERS: KnownUsers = new Map();

/** A v3 User object (Agent or Customer) as a chat participant. */
export function chatUserFromV3(user: JsonObject, declaredType: string | null = null): ChatUser {
  const id = stringAt(user, 'id');
  return {
    id,
    kind: authorKindFromUserType(declaredType ?? stringAt(user, 'type'), id) ?? authorKindFromUserId(id),
    name: stringAt(user, 'name'),
    email: stringAt(user, 'email'),
    present: booleanAt(user, 'present'),
  };
}

export function knownUsersFrom(users: readonly ChatUser[]): KnownUsers {
  const known = new Map<string, AuthorKind>();
  for (const user of users) if (user.id !== null) known.set(user.id, user.kind);
  return known;
}

/** v3.4+ `visibility`; v3.2–3.3 `recipients` (same values). Anything but `agents` is visible to all. */
export function visibilityOf(event: JsonObject): Visibility {
  const visibility = stringAt(event, 'visibility') ?? stringAt(event, 'recipients');
  return visibility === 'agents' ? 'agents' : 'all';
}

/** A v3 Event object (any type, known or not) as transcript content. */
export function chatMessageFromV3Event(
  event: JsonObject,
  knownUsers: KnownUsers = NO_KNOWN_USERS,
): ChatMessage {
  const kind = stringAt(event, 'type') ?? 'unknown';
  const authorId = stringAt(event, 'author_id');
  return {
    livechat_event_id: stringAt(event, 'id'),
    custom_id: stringAt(event, 'custom_id'),
    kind,
    author_id: authorId,
    author_kind: authorKindOf(kind, authorId, knownUsers),
    // v3 events name no author; the chat's user list does, but only incoming_chat carries it.
    author_name: null,
    visibility: visibilityOf(event),
    created_at: rfc3339At(event, 'created_at'),
    text: stringAt(event, 'text'),
    file: kind === 'file' ? fileFrom(event) : null,
    form: kind === 'filled_form' || kind === 'form' ? formFrom(event) : null,
    system_message_type: stringAt(event, 'system_message_type'),
    text_vars_json: jsonOrNull(event['text_vars']),
    template_id: stringAt(event, 'template_id'),
    content_json: contentOf(kind, event),
    properties_json: jsonOrNull(event['properties']),
    transcript_position: null,
  };
}

function authorKindOf(kind: string, authorId: string | null, knownUsers: KnownUsers): AuthorKind {
  if (authorId === null) return kind === 'system_message' || kind === 'system' ? 'system' : 'unknown';
  return knownUsers.get(authorId) ?? authorKindFromUserId(authorId);
}

function fileFrom(event: JsonObject): FileAttachment {
  return {
    name: stringAt(event, 'name'),
    url: stringAt(event, 'url'),
    content_type: stringAt(event, 'content_type'),
    size: integerAt(event, 'size'),
    width: integerAt(event, 'width'),
    height: integerAt(event, 'height'),
    thumbnail_url: stringAt(event, 'thumbnail_url'),
  };
}

function formFrom(event: JsonObject) {
  // Older payloads carry the form type only as the lc2.form_type property.
  const formType =
    stringAt(event, 'form_type') ?? stringAt(objectAt(objectAt(event, 'properties'), 'lc2'), 'form_type');
  return filledForm(stringAt(event, 'form_id'), formType, objectsAt(event, 'fields'));
}

/** The type-specific payload that has no fixed shape, as JSON. */
function contentOf(kind: string, event: JsonObject): string | null {
  switch (kind) {
    case 'rich_message':
      return jsonOrNull(event['elements']);
    case 'custom':
      return jsonOrNull(event['content']);
    case 'system': {
      const system: Record<string, unknown> = {};
      for (const key of ['source', 'subtype', 'version', 'details'])
        if (event[key] !== undefined) system[key] = event[key];
      return Object.keys(system).length > 0 ? JSON.stringify(system) : null;
    }
    case 'message':
      return isJsonObject(event['postback']) ? JSON.stringify(event['postback']) : null;
    default:
      return null;
  }
}
