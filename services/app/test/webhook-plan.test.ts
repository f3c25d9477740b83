import { describe, expect, it } from 'vitest';
import type { RemoteWebhook } from '../src/livechat/configuration-api.js';
import type { DesiredWebhook } from '../src/webhooks/desired.js';
import { LIMIT_PER_ACTION, matchesDesired, planWebhooks } from '../src/webhooks/plan.js';

// Pure: LiveChat's list + the registry's live rows + the configuration -> what to keep and the ordered steps.
const URL = 'https://hooks.example.com/livechat';
const desired: DesiredWebhook[] = [
  {
    action: 'incoming_event',
    description: 'events',
    filters: {},
    additional_data: ['chat_properties', 'chat_presence_user_ids'],
  },
  {
    action: 'chat_properties_updated',
    description: 'props',
    filters: { source_type: ['other_clients', 'system'] },
    additional_data: [],
  },
  { action: 'incoming_chat', description: 'chats', filters: {}, additional_data: [] },
];
const remoteOf = (id: string, d: DesiredWebhook, fields: Partial<RemoteWebhook> = {}): RemoteWebhook => ({
  id,
  url: URL,
  description: d.description,
  action: d.action,
  filters: d.filters,
  additional_data: d.additional_data,
  owner_client_id: 'client',
  type: 'license',
  ...fields,
});
const [events, props, chats] = desired as [DesiredWebhook, DesiredWebhook, DesiredWebhook];
const converged = [remoteOf('w1', events), remoteOf('w2', props), remoteOf('w3', chats)];
const liveOf = (remote: readonly RemoteWebhook[]) => remote.map((r) => ({ id: r.id, action: r.action }));
const plan = (remote: readonly RemoteWebhook[], live = liveOf(remote)) =>
  planWebhooks({ remote, live, desired, webhookUrl: URL });
const ops = (steps: ReturnType<typeof plan>['steps']) =>
  steps.map((s) => [s.op, s.action, 'id' in s ? s.id : '', s.reason]);

describe('webhook plan', () => {
  it('registers every configured action that is missing, in action order', () => {
    const p = plan([], []);
    expect(ops(p.steps)).toEqual([
      ['register', 'chat_properties_updated', '', 'missing'],
      ['register', 'incoming_chat', '', 'missing'],
      ['register', 'incoming_event', '', 'missing'],
    ]);
    expect(p.steps.map((s) => (s.op === 'register' ? s.desired : undefined))).toEqual([props, chats, events]);
    expect(p.keep).toEqual([]);
  });

  it('keeps what matches and whose secret is known: nothing to do', () => {
    const p = plan(converged);
    expect(p.steps).toEqual([]);
    expect(p.keep).toEqual([
      { action: 'chat_properties_updated', id: 'w2' },
      { action: 'incoming_chat', id: 'w3' },
      { action: 'incoming_event', id: 'w1' },
    ]);
  });

  it('matching ignores the order of filter keys and of additional_data, but not the type, URL or description', () => {
    const d: DesiredWebhook = {
      action: 'a',
      description: 'd',
      filters: { x: 1, y: [1, 2] },
      additional_data: ['p', 'q'],
    };
    const r = remoteOf('r', d, { filters: { y: [1, 2], x: 1 }, additional_data: ['q', 'p'] });
    expect(matchesDesired(r, d, URL)).toBe(true);
    expect(matchesDesired({ ...r, filters: { x: 1, y: [2, 1] } }, d, URL)).toBe(false);
    expect(matchesDesired({ ...r, type: 'bot' }, d, URL)).toBe(false);
    expect(matchesDesired({ ...r, url: `${URL}/x` }, d, URL)).toBe(false);
    expect(matchesDesired({ ...r, description: 'other' }, d, URL)).toBe(false);
  });

  it('unregisters stale webhooks: an unknown secret, an action not in config (as the integration test sets up)', () => {
    const handMade = [
      remoteOf('h1', chats, { url: 'https://elsewhere.example.com/hook' }),
      remoteOf('h2', { action: 'tag_created', description: '', filters: {}, additional_data: [] }),
    ];
    const p = plan([...converged, ...handMade], liveOf(converged));
    expect(ops(p.steps)).toEqual([
      ['unregister', 'incoming_chat', 'h1', 'secret unknown to the registry'],
      ['unregister', 'tag_created', 'h2', 'action not in config'],
    ]);
    expect(p.steps.every((s) => s.op === 'unregister' && !s.known && !s.beforeRegister)).toBe(true);
    expect(p.keep.map((k) => k.id)).toEqual(['w2', 'w3', 'w1']);
  });

  it('names why a known webhook is stale: points elsewhere, duplicate, definition changed', () => {
    const remote = [
      remoteOf('w1', events),
      remoteOf('w1b', events), // a second matching one: the first by id is kept
      remoteOf('w2', props, { url: 'https://old.example.com/hook' }),
      remoteOf('w3', chats, { description: 'old' }),
    ];
    const p = plan(remote);
    expect(ops(p.steps)).toEqual([
      ['register', 'chat_properties_updated', '', 'replaces stale'],
      ['unregister', 'chat_properties_updated', 'w2', 'points elsewhere'],
      ['register', 'incoming_chat', '', 'replaces stale'],
      ['unregister', 'incoming_chat', 'w3', 'definition changed'],
      ['unregister', 'incoming_event', 'w1b', 'duplicate'],
    ]);
    expect(p.steps.filter((s) => s.op === 'unregister').every((s) => s.known)).toBe(true);
    expect(p.keep).toEqual([{ action: 'incoming_event', id: 'w1' }]);
  });

  it('registers before it unregisters while the action has room under the limit', () => {
    const remote = [
      remoteOf('s1', chats, { url: 'https://a.example.com' }),
      remoteOf('s2', chats, { url: 'https://b.example.com' }),
    ];
    const p = plan(
      [remoteOf('w1', events), remoteOf('w2', props), ...remote],
      [
        { id: 'w1', action: events.action },
        { id: 'w2', action: props.action },
      ],
    );
    expect(ops(p.steps)).toEqual([
      ['register', 'incoming_chat', '', 'replaces stale'],
      ['unregister', 'incoming_chat', 's1', 'secret unknown to the registry'],
      ['unregister', 'incoming_chat', 's2', 'secret unknown to the registry'],
    ]);
  });

  it(`respects the limit of ${LIMIT_PER_ACTION} per action: frees one slot first, an unknown one before a known one`, () => {
    // As the integration test sets up: our webhook, whose secret the registry forgot, and two unknown ones.
    const full = [
      remoteOf('a-ours', chats),
      remoteOf('b-x0', chats, { url: 'https://other.example.com/0' }),
      remoteOf('c-x1', chats, { url: 'https://other.example.com/1' }),
    ];
    const p = plan(full, []).steps.filter((s) => s.action === chats.action);
    expect(
      p.map((s) => [s.op, 'id' in s ? s.id : '', s.op === 'unregister' ? s.beforeRegister : null]),
    ).toEqual([
      ['unregister', 'a-ours', true],
      ['register', '', null],
      ['unregister', 'b-x0', false],
      ['unregister', 'c-x1', false],
    ]);
    // one known (definition changed) and two unknown: an unknown one makes room
    const mixed = [
      remoteOf('a-known', chats, { description: 'old' }),
      remoteOf('b-x0', chats, { url: 'https://o/0' }),
      remoteOf('c-x1', chats, { url: 'https://o/1' }),
    ];
    const q = plan(mixed, [{ id: 'a-known', action: chats.action }]).steps.filter(
      (s) => s.action === chats.action,
    );
    expect(
      q.map((s) => [s.op, 'id' in s ? s.id : '', s.op === 'unregister' ? s.beforeRegister : null]),
    ).toEqual([
      ['unregister', 'b-x0', true],
      ['register', '', null],
      ['unregister', 'a-known', false],
      ['unregister', 'c-x1', false],
    ]);
  });

  it('above the limit (LiveChat raised it, then lowered it) frees as many slots as needed first', () => {
    const over = ['a', 'b', 'c', 'd'].map((id) => remoteOf(id, chats, { url: `https://o/${id}` }));
    const steps = plan(over, []).steps.filter((s) => s.action === chats.action);
    expect(steps.map((s) => [s.op, s.op === 'unregister' ? s.beforeRegister : null])).toEqual([
      ['unregister', true],
      ['unregister', true],
      ['register', null],
      ['unregister', false],
      ['unregister', false],
    ]);
  });

  it('forgets registrations LiveChat no longer lists, after the per-action steps', () => {
    const p = plan(
      [remoteOf('w1', events), remoteOf('w2', props)],
      [...liveOf(converged), { id: 'gone', action: 'incoming_chat' }],
    );
    expect(ops(p.steps)).toEqual([
      ['register', 'incoming_chat', '', 'missing'],
      ['forget', 'incoming_chat', 'w3', 'no longer at LiveChat'],
      ['forget', 'incoming_chat', 'gone', 'no longer at LiveChat'],
    ]);
  });
});
