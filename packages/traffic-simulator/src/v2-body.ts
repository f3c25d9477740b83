/**
 * The v2 (deprecated, `event_type`) request bodies the simulator sends (SPEC.md §2). `type` aliases so a
 * body is assignable to `Record<string, unknown>`.
 */

export type V2EventType = 'chat_started' | 'chat_changed' | 'chat_ended' | 'visitor_queued';

export type V2Message = {
  user_type: 'agent' | 'supervisor' | 'visitor';
  author_name: string;
  text: string;
  /** Unix epoch seconds. */
  timestamp: number;
  /** Agents and supervisors only. */
  agent_id?: string;
};

export type V2ChatEvent = {
  user_type: 'agent' | 'visitor';
  text: string;
  timestamp: number;
  type: 'closed';
  agent_id?: string;
};

export type V2Visitor = {
  id: string;
  name: string;
  email: string;
  country: string;
  city: string;
  custom_variables: { key: string; value: string }[];
};

export type V2PrechatSurveyField = { id: string; type: 'name' | 'email'; label: string; answer: string };

type V2Common<EventType extends V2EventType> = {
  event_type: EventType;
  /** Undocumented but seen in real payloads; a retry carries the same value. */
  event_unique_id?: string;
  /** A v2 API credential: must never reach Kafka, Postgres or a log. */
  token: string;
  license_id: string;
  visitor: V2Visitor;
};

export type V2ChatStartedBody = V2Common<'chat_started'> & {
  chat: { id: string; started_timestamp: number; messages: V2Message[]; tags: string[] };
  /** An empty array when the survey was skipped. */
  pre_chat_survey: V2PrechatSurveyField[];
};

/** Sent only when the tag list changed; carries the whole tag list, not the change. */
export type V2ChatChangedBody = V2Common<'chat_changed'> & {
  chat: { id: string; started_timestamp: number; tags: string[] };
};

export type V2ChatEndedBody = V2Common<'chat_ended'> & {
  chat: {
    id: string;
    started_timestamp: number;
    ended_timestamp: number;
    messages: V2Message[];
    events: V2ChatEvent[];
    attachments: unknown[];
    agents: { name: string; login: string }[];
    tags: string[];
    groups: number[];
    /** The chat's rating at its end; `not_rated` also after a cancelled rating. */
    rate?: 'rated_good' | 'rated_bad' | 'not_rated';
  };
  pre_chat_survey: V2PrechatSurveyField[];
};

/** A visitor entered the queue (before any chat exists: no chat in the body). */
export type V2VisitorQueuedBody = V2Common<'visitor_queued'>;

export type V2WebhookBody = V2ChatStartedBody | V2ChatChangedBody | V2ChatEndedBody | V2VisitorQueuedBody;
