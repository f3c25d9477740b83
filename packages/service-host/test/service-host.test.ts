import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { Registry, Counter } from 'prom-client';
import { ServiceConfigError, connectionEnv, createOperationsServer, intVar, parseEnv } from '../src/index.js';

describe('parseEnv', () => {
  const schema = z.object({ ...connectionEnv('svc'), SVC_PORT: intVar(0, 65535).default(8000) });

  it('applies the local-stack defaults', () => {
    expect(parseEnv(schema, {}, 'svc')).toMatchObject({
      KAFKA_BROKERS: ['127.0.0.1:59092'],
      KAFKA_CLIENT_ID: 'svc',
      SVC_PORT: 8000,
      LOG_LEVEL: 'info',
    });
  });

  it('names every bad variable in one ServiceConfigError', () => {
    let caught: unknown;
    try {
      parseEnv(schema, { KAFKA_BROKERS: 'no-port', SVC_PORT: 'eighty', LOG_LEVEL: 'loud' }, 'svc');
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(ServiceConfigError);
    const message = (caught as Error).message;
    for (const name of ['KAFKA_BROKERS', 'SVC_PORT', 'LOG_LEVEL']) expect(message).toContain(name);
  });
});

describe('operations server', () => {
  let close: (() => void) | undefined;
  afterEach(() => close?.());

  it('answers /healthz, /readyz by the readiness check, /metrics, and 404 otherwise', async () => {
    const registry = new Registry();
    new Counter({ name: 'svc_things_total', help: 'things', registers: [registry] }).inc(3);
    let ready = false;
    const server = createOperationsServer(registry, async () => ({ ok: ready }));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    close = () => server.close();
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    expect((await fetch(`${base}/readyz`)).status).toBe(503);
    ready = true;
    expect((await fetch(`${base}/readyz`)).status).toBe(200);
    expect(await (await fetch(`${base}/metrics`)).text()).toContain('svc_things_total 3');
    expect((await fetch(`${base}/nope`)).status).toBe(404);
  });
});
