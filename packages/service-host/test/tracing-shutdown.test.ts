import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

// runMain starts tracing from OTEL_EXPORTER_OTLP_ENDPOINT; on SIGTERM stopOnSignals flushes the spans still
// buffered before the process exits. The receiver is a local OTLP/HTTP (JSON) endpoint.

const spanNames: string[] = [];
const receiver = createServer((request, response) => {
  const chunks: Buffer[] = [];
  request.on('data', (c: Buffer) => chunks.push(c));
  request.on('end', () => {
    const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as {
      resourceSpans: { scopeSpans: { spans: { name: string }[] }[] }[];
    };
    for (const rs of body.resourceSpans)
      for (const ss of rs.scopeSpans) spanNames.push(...ss.spans.map((s) => s.name));
    response.writeHead(200, { 'content-type': 'application/json' }).end('{}');
  });
});
afterAll(() => new Promise<void>((resolve) => receiver.close(() => resolve())));

function runFixture(env: Record<string, string>) {
  const child = spawn(process.execPath, ['--import', 'tsx', 'test/support/traced-main.ts'], {
    cwd: fileURLToPath(new URL('..', import.meta.url)),
    env: { ...process.env, ...env, OTEL_EXPORTER_OTLP_ENDPOINT: env['OTEL_EXPORTER_OTLP_ENDPOINT'] ?? '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
  return { child, exited, output: () => ({ stdout, stderr }) };
}

describe('tracing in the service shell', () => {
  it('SIGTERM flushes the spans still buffered to the OTLP endpoint before the process exits', async () => {
    receiver.listen(0, '127.0.0.1');
    await once(receiver, 'listening');
    const { port } = receiver.address() as AddressInfo;
    const run = runFixture({ OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${port}` });
    // Wait for `ready` on the stdout events (bounded by the test's timeout); an early exit fails at once.
    const exitedEarly = run.exited.then(() => {
      throw new Error(`the fixture exited before ready: ${run.output().stderr}`);
    });
    exitedEarly.catch(() => undefined); // it rejects at the normal exit too, once nobody waits on it
    while (!run.output().stdout.includes('ready'))
      await Promise.race([once(run.child.stdout, 'data'), exitedEarly]);
    run.child.kill('SIGTERM');
    const [code] = await run.exited;
    expect(code).toBe(0);
    expect(spanNames).toContain('fixture work');
  });

  it('a bad OTEL_EXPORTER_OTLP_ENDPOINT stops the start with exit 2 naming the variable', async () => {
    const run = runFixture({ OTEL_EXPORTER_OTLP_ENDPOINT: 'collector:4318' });
    const [code] = await run.exited;
    expect(code).toBe(2);
    expect(run.output().stderr).toContain('OTEL_EXPORTER_OTLP_ENDPOINT: must be an http(s) URL');
    expect(run.output().stdout).not.toContain('ready');
  });
});
