import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { callWithRetries } from '../src/http/retrying-fetch.js';
import { createAppMetrics } from '../src/operations.js';

describe('LiveChat API attempts on app_livechat_api_calls_total', () => {
  let server: Server;
  let url: string;
  const answers: number[] = [];
  beforeAll(async () => {
    // A LiveChat stand-in that answers the queued statuses in order, then 200.
    server = createServer((req, res) => {
      req.resume();
      res.statusCode = answers.shift() ?? 200;
      res.end('{}');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/configuration/action/list_webhooks`;
  });
  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
  });

  it('counts every attempt by call and outcome: HTTP status, network', async () => {
    const metrics = createAppMetrics({ defaultMetrics: false });
    const policy = {
      maxRetries: 3,
      timeoutMs: 2_000,
      baseDelayMs: 1,
      maxDelayMs: 5,
      onAttempt: (call: string, outcome: string) => metrics.livechatApiCalls.inc({ call, outcome }),
    };
    const logger = pino({ level: 'silent' });
    answers.push(503, 429);
    const res = await callWithRetries(
      'configuration.list_webhooks',
      async () => ({ url, init: { method: 'POST' } }),
      policy,
      logger,
    );
    expect(res.status).toBe(200);
    // a refused connection is a network error (port 1 on loopback: nothing listens)
    await expect(
      callWithRetries(
        'token.refresh',
        async () => ({ url: 'http://127.0.0.1:1/v2/token', init: { method: 'POST' } }),
        { ...policy, maxRetries: 0 },
        logger,
      ),
    ).rejects.toMatchObject({ code: 'APP_LIVECHAT_UNAVAILABLE' });

    const text = await metrics.registry.metrics();
    const series = [
      ...text.matchAll(/^app_livechat_api_calls_total\{call="([^"]+)",outcome="([^"]+)"\} (\d+)$/gm),
    ]
      .map((m) => `${m[1]} ${m[2]} ${m[3]}`)
      .sort();
    expect(series).toEqual([
      'configuration.list_webhooks 200 1',
      'configuration.list_webhooks 429 1',
      'configuration.list_webhooks 503 1',
      'token.refresh network 1',
    ]);
  });
});
