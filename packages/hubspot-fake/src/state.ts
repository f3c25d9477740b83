/** The fake's world: portals (HubSpot accounts) with their tokens, contacts, notes and rate-limit counters. */
export interface FakeContact {
  readonly id: string;
  /** Lower-cased: HubSpot's e-mail uniqueness is case-insensitive. */
  readonly emailKey: string;
  properties: Record<string, string>;
  readonly createdAt: string;
  updatedAt: string;
}

export interface FakeNote {
  readonly id: string;
  properties: Record<string, string>;
  /** Contact ids the note is associated with (association type 202). */
  readonly contactIds: string[];
  readonly createdAt: string;
  updatedAt: string;
}

export interface FakePortal {
  readonly portalId: number;
  readonly contacts: Map<string, FakeContact>;
  readonly contactsByEmail: Map<string, string>;
  readonly notes: Map<string, FakeNote>;
  /**
   * Lower-cased e-mails of GDPR deletions (`gdpr-delete`): HubSpot blocklists them, so no contact can be made
   * with one again.
   */
  readonly gdprBlocked: Set<string>;
  /** Times (ms) of the calls counted in the rolling ten-second window. */
  readonly window: number[];
  dailyCount: number;
  dailyWindowStart: number;
}

/** One call as the fake saw it: for assertions, never with the token. */
export interface RecordedCall {
  readonly at: number;
  readonly method: string;
  readonly path: string;
  readonly portalId: number | null;
  readonly status: number;
  readonly fault?: string;
  /** For a note create that was written: the new note id. */
  readonly noteId?: string;
}

export interface FakeHubSpotOptions {
  /** Bearer token -> portal id. Several tokens may name one portal (they share its limits). */
  readonly tokens: Readonly<Record<string, number>>;
  /** Tokens answered with 401 EXPIRED_AUTHENTICATION. */
  readonly expiredTokens?: readonly string[];
  /** Calls per portal in any rolling 10 s (HubSpot: 100 for free/starter, 190 for professional private apps). */
  readonly tenSecondlyLimit?: number;
  /** Length of the rolling window (HubSpot: 10 s; tests shorten it together with the client's wait). */
  readonly tenSecondlyWindowMs?: number;
  /** Calls per portal per daily window. */
  readonly dailyLimit?: number;
  /** Length of the "day" (tests shorten it); HubSpot resets at midnight in the account's time zone. */
  readonly dailyWindowMs?: number;
  /** Sent with every 429 when set; HubSpot does not document one, so by default there is none. */
  readonly retryAfterSeconds?: number;
  readonly host?: string;
  readonly port?: number;
}

export const NOTE_BODY_LIMIT = 65_536;
export const BATCH_LIMIT = 100;
/** The HUBSPOT_DEFINED association type of note -> contact. */
export const NOTE_TO_CONTACT = 202;
/** Contact properties the fake's portals know (HubSpot refuses unknown property names per input). */
export const CONTACT_PROPERTIES = new Set([
  'email',
  'firstname',
  'lastname',
  'phone',
  'company',
  'city',
  'country',
  'jobtitle',
  'website',
  'lifecyclestage',
]);
