import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ChatKey, openValues, sealValues } from '../src/index.js';
import type { PrivacyError, SealSpec } from '../src/index.js';

const key = new ChatKey('t1', 'C1', 1, randomBytes(32));

const event = {
  type: 'thread_started',
  users: [
    { id: 'cust-1', kind: 'customer', name: 'Zoë Canary', email: 'zoe@example.com' },
    { id: 'agent@example.com', kind: 'agent', name: 'Agent A', email: 'agent@example.com' },
    { id: 'cust-2', kind: 'customer', name: null, email: 'x@example.com' },
  ],
  message: {
    text: 'my card is 4111',
    form: { fields: [{ id: 'f1', label: 'Name', answer: 'Zoë', answers: ['a', 'b'] }] },
    properties_json: '{"rating":{"score":1,"comment":"slow"}}',
  },
  tags: ['vip'],
};

const specs: SealSpec[] = [
  { path: '/users/*/name', when: (u) => u['kind'] === 'customer' },
  { path: '/users/*/email', when: (u) => u['kind'] === 'customer' },
  { path: '/message/text' },
  { path: '/message/form/fields/*/answer' },
  { path: '/message/form/fields/*/answers', clear: () => [] },
  {
    path: '/message/properties_json',
    clear: (v) => {
      const score = (JSON.parse(v as string) as { rating?: { score?: number } }).rating?.score;
      return JSON.stringify(score === undefined ? {} : { rating: { score } });
    },
  },
  { path: '/missing/*/field' },
];

describe('sealValues / openValues: the personal values of a record in one envelope', () => {
  it('seals what the specs name, leaves the rest and the input untouched, and opens back to the original', () => {
    const before = JSON.stringify(event);
    const sealed = sealValues(event, specs, key, 'chat-event:e-1');
    expect(JSON.stringify(event)).toBe(before);
    expect(sealed.paths).toEqual([
      '/users/0/name',
      '/users/0/email',
      '/users/2/email',
      '/message/text',
      '/message/form/fields/0/answer',
      '/message/form/fields/0/answers',
      '/message/properties_json',
    ]);
    const clear = JSON.stringify(sealed.clear);
    for (const secret of ['Zoë', 'zoe@example.com', 'x@example.com', '4111', 'slow'])
      expect(clear).not.toContain(secret);
    expect(sealed.clear.users[1]).toEqual(event.users[1]);
    expect(sealed.clear.message.form.fields[0]!.answers).toEqual([]);
    expect(sealed.clear.message.properties_json).toBe('{"rating":{"score":1}}');
    expect(sealed.clear.tags).toEqual(['vip']);
    expect(sealed.envelope!.toString('latin1')).not.toMatch(/Zo|example/);
    expect(openValues(sealed.clear, sealed.envelope!, key, 'chat-event:e-1')).toEqual(event);
  });

  it("nothing personal: no envelope; another record's envelope or key does not open", () => {
    expect(sealValues({ tags: ['x'] }, specs, key, 'f')).toEqual({
      clear: { tags: ['x'] },
      envelope: null,
      paths: [],
    });
    const sealed = sealValues(event, specs, key, 'chat-event:e-1');
    const codeOf = (fn: () => unknown) => {
      try {
        fn();
        return '';
      } catch (err) {
        return (err as PrivacyError).code;
      }
    };
    expect(codeOf(() => openValues(sealed.clear, sealed.envelope!, key, 'chat-event:e-2'))).toBe(
      'PRIVACY_CIPHERTEXT_INVALID',
    );
    expect(
      codeOf(() =>
        openValues(
          sealed.clear,
          sealed.envelope!,
          new ChatKey('t1', 'C1', 1, randomBytes(32)),
          'chat-event:e-1',
        ),
      ),
    ).toBe('PRIVACY_CIPHERTEXT_INVALID');
  });
});
