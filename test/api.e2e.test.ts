import { afterAll, beforeAll, expect, it } from 'vitest';
import { createApiTestBed, type ApiTestBed } from './support/api-bed.js';

let bed: ApiTestBed;
beforeAll(async () => {
  bed = await createApiTestBed({ seed: 1601, chats: 30 });
});
afterAll(async () => {
  await bed?.close();
});

it('lists the chats of the key’s tenant', async () => {
  const res = await bed.app.inject({
    url: '/v1/chats?limit=3',
    headers: { authorization: `Bearer ${bed.keys[0]}` },
  });
  expect(res.statusCode).toBe(200);
  expect(res.json<{ chats: unknown[] }>().chats).toHaveLength(3);
});
