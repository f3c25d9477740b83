import { afterEach, describe, expect, it } from 'vitest';
import { startFakeHubSpot, type FakeHubSpot } from '../src/index.js';

// The fake through its HTTP API only, as crm-sync sees it.
let fake: FakeHubSpot | undefined;
afterEach(async () => {
  await fake?.close();
  fake = undefined;
});

async function call(
  method: string,
  path: string,
  body?: unknown,
  token = 'tok-a',
  signal?: AbortSignal,
): Promise<{ status: number; body: Record<string, unknown>; headers: Headers }> {
  const res = await fetch(`${fake!.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    ...(signal === undefined ? {} : { signal }),
  });
  const text = await res.text();
  return {
    status: res.status,
    body: text === '' ? {} : (JSON.parse(text) as Record<string, unknown>),
    headers: res.headers,
  };
}

const upsert = (emails: string[], extra: Record<string, string> = {}) => ({
  inputs: emails.map((email, i) => ({
    id: email,
    idProperty: 'email',
    properties: { email, firstname: `F${i}`, ...extra },
    objectWriteTraceId: `t${i}`,
  })),
});

const note = (contactId: string, body = '<p>hi</p>', typeId = 202) => ({
  properties: { hs_timestamp: '2026-11-25T10:00:00Z', hs_note_body: body },
  associations: [
    { to: { id: contactId }, types: [{ associationCategory: 'HUBSPOT_DEFINED', associationTypeId: typeId }] },
  ],
});

describe('hubspot-fake', () => {
  it('refuses a missing or unknown bearer token with 401 INVALID_AUTHENTICATION, an expired one with EXPIRED_AUTHENTICATION', async () => {
    fake = await startFakeHubSpot({ tokens: { 'tok-a': 1 }, expiredTokens: ['old'] });
    const unknown = await call('POST', '/crm/v3/objects/contacts/batch/upsert', upsert(['a@x.io']), 'nope');
    expect(unknown.status).toBe(401);
    expect(unknown.body['category']).toBe('INVALID_AUTHENTICATION');
    const expired = await call('POST', '/crm/v3/objects/contacts/batch/upsert', upsert(['a@x.io']), 'old');
    expect(expired.body['category']).toBe('EXPIRED_AUTHENTICATION');
    expect(fake.contacts()).toEqual([]);
  });

  it('upserts contacts by e-mail (case-insensitive), at most 100 per batch, 207 with per-input errors', async () => {
    fake = await startFakeHubSpot({ tokens: { 'tok-a': 1 } });
    const first = await call(
      'POST',
      '/crm/v3/objects/contacts/batch/upsert',
      upsert(['Ada@X.io', 'bob@x.io']),
    );
    expect(first.status).toBe(200);
    const results = first.body['results'] as { id: string; new: boolean; objectWriteTraceId: string }[];
    expect(results.map((r) => r.new)).toEqual([true, true]);
    const again = await call('POST', '/crm/v3/objects/contacts/batch/upsert', upsert(['ada@x.io']));
    expect((again.body['results'] as { id: string; new: boolean }[])[0]).toMatchObject({
      id: results[0]!.id,
      new: false,
    });

    const tooMany = Array.from({ length: 101 }, (_, i) => `c${i}@x.io`);
    const refused = await call('POST', '/crm/v3/objects/contacts/batch/upsert', upsert(tooMany));
    expect(refused.status).toBe(400);
    expect(refused.body['category']).toBe('VALIDATION_ERROR');

    const mixed = await call('POST', '/crm/v3/objects/contacts/batch/upsert', {
      inputs: [
        { id: 'ok@x.io', idProperty: 'email', properties: { email: 'ok@x.io' }, objectWriteTraceId: 'good' },
        { id: 'not-an-email', idProperty: 'email', properties: {}, objectWriteTraceId: 'bad' },
        { id: 'p@x.io', idProperty: 'email', properties: { shoe_size: '9' }, objectWriteTraceId: 'prop' },
      ],
    });
    expect(mixed.status).toBe(207);
    expect(mixed.body['numErrors']).toBe(2);
    const errors = mixed.body['errors'] as { context: { objectWriteTraceId: string[] }; category: string }[];
    expect(errors.map((e) => e.context.objectWriteTraceId[0])).toEqual(['bad', 'prop']);
    expect(
      fake
        .contacts()
        .map((c) => c.emailKey)
        .sort(),
    ).toEqual(['ada@x.io', 'bob@x.io', 'ok@x.io']);
  });

  it('answers a create of an existing e-mail with 409 OBJECT_ALREADY_EXISTS naming the existing id', async () => {
    fake = await startFakeHubSpot({ tokens: { 'tok-a': 1 } });
    const created = await call('POST', '/crm/v3/objects/contacts', { properties: { email: 'lee@x.io' } });
    expect(created.status).toBe(201);
    const conflict = await call('POST', '/crm/v3/objects/contacts', { properties: { email: 'LEE@x.io' } });
    expect(conflict.status).toBe(409);
    expect(conflict.body['category']).toBe('OBJECT_ALREADY_EXISTS');
    expect(conflict.body['message']).toBe(
      `Contact already exists. Existing ID: ${String(created.body['id'])}`,
    );
  });

  it('creates notes associated by type 202 only, refuses bodies over 65,536 characters, never deduplicates', async () => {
    fake = await startFakeHubSpot({ tokens: { 'tok-a': 1 } });
    const c = await call('POST', '/crm/v3/objects/contacts/batch/upsert', upsert(['a@x.io']));
    const contactId = (c.body['results'] as { id: string }[])[0]!.id;
    expect((await call('POST', '/crm/v3/objects/notes', note(contactId, 'x'.repeat(65_537)))).status).toBe(
      400,
    );
    expect((await call('POST', '/crm/v3/objects/notes', note(contactId, 'x', 1))).status).toBe(400);
    expect((await call('POST', '/crm/v3/objects/notes', note('999999'))).status).toBe(400);
    const { associations: _omit, ...withoutAssociations } = note(contactId);
    expect((await call('POST', '/crm/v3/objects/notes', withoutAssociations)).status).toBe(400);
    expect((await call('POST', '/crm/v3/objects/notes', note(contactId, 'x'.repeat(65_536)))).status).toBe(
      201,
    );
    expect((await call('POST', '/crm/v3/objects/notes', note(contactId, 'same'))).status).toBe(201);
    const second = await call('POST', '/crm/v3/objects/notes', note(contactId, 'same'));
    expect(second.status).toBe(201);
    expect(fake.notes()).toHaveLength(3);

    const patched = await call('PATCH', `/crm/v3/objects/notes/${String(second.body['id'])}`, {
      properties: { hs_note_body: 'final' },
    });
    expect(patched.status).toBe(200);
    const assoc = await call('GET', `/crm/v4/objects/contacts/${contactId}/associations/notes?limit=2`);
    expect((assoc.body['results'] as unknown[]).length).toBe(2);
    expect(assoc.body['paging']).toEqual({ next: { after: '2' } });
    const read = await call('POST', '/crm/v3/objects/notes/batch/read', {
      properties: ['hs_note_body'],
      inputs: [{ id: String(second.body['id']) }],
    });
    expect(
      (read.body['results'] as { properties: { hs_note_body: string } }[])[0]!.properties.hs_note_body,
    ).toBe('final');
  });

  it('answers 429 with HubSpot bodies for the ten-second and the daily policy, without Retry-After', async () => {
    fake = await startFakeHubSpot({ tokens: { 'tok-a': 1, 'tok-b': 2 }, tenSecondlyLimit: 3, dailyLimit: 5 });
    const statuses: number[] = [];
    let last: Awaited<ReturnType<typeof call>> | undefined;
    for (let i = 0; i < 4; i++) {
      last = await call('GET', '/crm/v3/objects/contacts/x@x.io?idProperty=email');
      statuses.push(last.status);
    }
    expect(statuses).toEqual([404, 404, 404, 429]);
    expect(last!.body).toMatchObject({
      status: 'error',
      errorType: 'RATE_LIMIT',
      policyName: 'TEN_SECONDLY_ROLLING',
      message: 'You have reached your ten_secondly_rolling limit.',
    });
    expect(last!.headers.get('retry-after')).toBeNull();
    // another portal has its own window
    expect(
      (await call('GET', '/crm/v3/objects/contacts/x@x.io?idProperty=email', undefined, 'tok-b')).status,
    ).toBe(404);

    const daily = await startFakeHubSpot({ tokens: { 'tok-a': 1 }, tenSecondlyLimit: 100, dailyLimit: 2 });
    try {
      const hit = async () =>
        await fetch(`${daily.url}/crm/v3/objects/contacts/x@x.io?idProperty=email`, {
          headers: { authorization: 'Bearer tok-a' },
        });
      expect((await hit()).status).toBe(404);
      expect((await hit()).status).toBe(404);
      const limited = await hit();
      expect(limited.status).toBe(429);
      expect(((await limited.json()) as { policyName: string }).policyName).toBe('DAILY');
      daily.resetDaily();
      expect((await hit()).status).toBe(404);
    } finally {
      await daily.close();
    }
  });

  it('plays switchable faults: 5xx, 423, and an answer after the client gave up although the note was written', async () => {
    fake = await startFakeHubSpot({ tokens: { 'tok-a': 1 } });
    const c = await call('POST', '/crm/v3/objects/contacts/batch/upsert', upsert(['a@x.io']));
    const contactId = (c.body['results'] as { id: string }[])[0]!.id;
    const control = await fetch(`${fake.url}/__fake/faults`, {
      method: 'POST',
      body: JSON.stringify({
        target: 'notes-create',
        faults: [
          { kind: 'status', status: 503 },
          { kind: 'status', status: 423 },
          { kind: 'answer-late', ms: 1500 },
        ],
      }),
    });
    expect(control.status).toBe(204);
    expect((await call('POST', '/crm/v3/objects/notes', note(contactId))).status).toBe(503);
    const locked = await call('POST', '/crm/v3/objects/notes', note(contactId));
    expect([locked.status, locked.body['category']]).toEqual([423, 'LOCKED']);
    expect(fake.notes()).toHaveLength(0);
    await expect(
      call('POST', '/crm/v3/objects/notes', note(contactId), 'tok-a', AbortSignal.timeout(300)),
    ).rejects.toThrow();
    const notes = (await (await fetch(`${fake.url}/__fake/notes`)).json()) as unknown[];
    expect(notes).toHaveLength(1);
    const calls = (await (await fetch(`${fake.url}/__fake/calls`)).json()) as {
      fault?: string;
      noteId?: string;
    }[];
    expect(calls.filter((k) => k.fault === 'answer-late').map((k) => k.noteId)).toHaveLength(1);
  });
  it('deletes a note (204 without a body; 404 once gone) and GDPR-deletes a contact by e-mail or id, blocklisting the e-mail', async () => {
    fake = await startFakeHubSpot({ tokens: { 'tok-a': 1, 'tok-b': 2 }, tenSecondlyLimit: 12 });
    const up = await call(
      'POST',
      '/crm/v3/objects/contacts/batch/upsert',
      upsert(['gone@x.io', 'kept@x.io']),
    );
    const ids = (up.body['results'] as { id: string; properties: { email: string } }[]).map((r) => r.id);
    const created = await call('POST', '/crm/v3/objects/notes', note(ids[0]!));
    const noteId = String(created.body['id']);

    expect((await call('DELETE', `/crm/v3/objects/notes/${noteId}`, undefined, 'nope')).status).toBe(401);
    // another portal's token does not see the note
    const other = await call('DELETE', `/crm/v3/objects/notes/${noteId}`, undefined, 'tok-b');
    expect(other.status).toBe(404);
    const deleted = await call('DELETE', `/crm/v3/objects/notes/${noteId}`);
    expect(deleted.status).toBe(204);
    expect(deleted.body).toEqual({});
    const again = await call('DELETE', `/crm/v3/objects/notes/${noteId}`);
    expect(again.status).toBe(404);
    expect(again.body['category']).toBe('OBJECT_NOT_FOUND');
    expect(fake.notes()).toEqual([]);

    expect((await call('POST', '/crm/v3/objects/contacts/gdpr-delete', {})).status).toBe(400);
    expect((await call('POST', '/crm/v3/objects/contacts/gdpr-delete', { objectId: '999999' })).status).toBe(
      404,
    );
    const byEmail = await call('POST', '/crm/v3/objects/contacts/gdpr-delete', {
      objectId: 'GONE@x.io',
      idProperty: 'email',
    });
    expect(byEmail.status).toBe(204);
    expect(byEmail.body).toEqual({});
    expect(fake.contacts().map((c) => c.emailKey)).toEqual(['kept@x.io']);
    // an unknown e-mail is blocklisted too (HubSpot's rule)
    expect(
      (
        await call('POST', '/crm/v3/objects/contacts/gdpr-delete', {
          objectId: 'never@x.io',
          idProperty: 'email',
        })
      ).status,
    ).toBe(204);
    expect(fake.gdprDeleted(1).sort()).toEqual(['gone@x.io', 'never@x.io']);
    // a blocklisted e-mail cannot make a contact again: its input fails (207), the others go on
    const retry = await call(
      'POST',
      '/crm/v3/objects/contacts/batch/upsert',
      upsert(['gone@x.io', 'new@x.io']),
    );
    expect(retry.status).toBe(207);
    expect(JSON.stringify(retry.body['errors'])).toMatch(/blocklisted/);
    expect((await call('POST', '/crm/v3/objects/contacts/gdpr-delete', { objectId: ids[1]! })).status).toBe(
      204,
    );
    expect(fake.contacts().map((c) => c.emailKey)).toEqual(['new@x.io']);

    // both endpoints count against the portal's ten-second window like every call
    let status = 0;
    for (let i = 0; i < 10 && status !== 429; i++)
      status = (await call('DELETE', '/crm/v3/objects/notes/424242')).status;
    expect(status).toBe(429);
    expect(
      (await call('POST', '/crm/v3/objects/contacts/gdpr-delete', { objectId: '1', idProperty: 'email' }))
        .status,
    ).toBe(429);
  });
});
