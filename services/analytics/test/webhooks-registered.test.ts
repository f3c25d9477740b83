import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

// The app registers config/livechat-webhooks.json with LiveChat: an action missing there never reaches analytics.
const registered = (
  JSON.parse(readFileSync(new URL('../../../config/livechat-webhooks.json', import.meta.url), 'utf8')) as {
    webhooks: { action: string }[];
  }
).webhooks.map((w) => w.action);

describe('analytics: the webhooks it needs are registered', () => {
  it('lists every v3 action the analytics facts come from', () => {
    const needed = [
      'incoming_chat',
      'incoming_event',
      'event_updated',
      'event_deleted',
      'chat_deactivated',
      'chat_transferred',
      'chat_access_updated',
      'user_added_to_chat',
      'thread_tagged',
      'thread_untagged',
      // ratings: rating.score / rating.comment set, and deleted = cancelled
      'chat_properties_updated',
      'chat_properties_deleted',
      'thread_properties_updated',
      'thread_properties_deleted',
      'routing_status_set',
    ];
    expect(needed.filter((action) => !registered.includes(action))).toEqual([]);
  });
});
