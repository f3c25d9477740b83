/**
 * Benchmark (not a test): the ingest's throughput with tracing off and on. Runs `bench/ingest.bench.ts` (no spool
 * runs) once per setting per round, the settings interleaved so the shared machine's noise spreads over all of
 * them, with the ingest exporting to a local OTLP/HTTP receiver of this script (it only counts spans):
 *
 *   off                       OTEL_EXPORTER_OTLP_ENDPOINT unset
 *   always_on                 every webhook traced
 *   parentbased_traceidratio  OTEL_TRACES_SAMPLER_ARG=0.1 (one webhook in ten)
 *
 *   pnpm stack up && pnpm --filter @livechat-pipeline/ingest exec tsx bench/tracing-overhead.ts
 *
 * Env: BENCH_ROUNDS (2), and the ingest benchmark's own (BENCH_DURATION_S, BENCH_CONNECTIONS, …). Prints each
 * run's ingest peak and bare-route rate, and per setting the mean peak relative to `off` (raw, and normalised by
 * the bare route measured in the same run, which takes out part of the machine's drift).
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';

const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 2);

let spans = 0;
const receiver = createServer((request, response) => {
  const chunks: Buffer[] = [];
  request.on('data', (c: Buffer) => chunks.push(c));
  request.on('end', () => {
    try {
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as {
        resourceSpans?: { scopeSpans?: { spans?: unknown[] }[] }[];
      };
      for (const rs of body.resourceSpans ?? [])
        for (const ss of rs.scopeSpans ?? []) spans += ss.spans?.length ?? 0;
    } catch {
      // not JSON: counted as nothing
    }
    response.writeHead(200, { 'content-type': 'application/json' }).end('{}');
  });
});
receiver.listen(0, '127.0.0.1');
await once(receiver, 'listening');
const endpoint = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;

const settings: { name: string; env: Record<string, string> }[] = [
  { name: 'off', env: {} },
  { name: 'always_on', env: { OTEL_EXPORTER_OTLP_ENDPOINT: endpoint, OTEL_TRACES_SAMPLER: 'always_on' } },
  {
    name: 'parentbased_traceidratio 0.1',
    env: {
      OTEL_EXPORTER_OTLP_ENDPOINT: endpoint,
      OTEL_TRACES_SAMPLER: 'parentbased_traceidratio',
      OTEL_TRACES_SAMPLER_ARG: '0.1',
    },
  },
];

interface Result {
  readonly setting: string;
  readonly round: number;
  readonly ingest: number;
  readonly bare: number;
  readonly spans: number;
}

async function runBench(env: Record<string, string>): Promise<{ ingest: number; bare: number }> {
  const base = { ...process.env };
  for (const key of Object.keys(base)) if (key.startsWith('OTEL_')) delete base[key];
  const child = spawn(process.execPath, ['--import', 'tsx', 'bench/ingest.bench.ts'], {
    cwd: fileURLToPath(new URL('..', import.meta.url)),
    env: { ...base, BENCH_SPOOL: '0', ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  const [code] = (await once(child, 'exit')) as [number | null];
  const ingest = /^ingest peak\s*: +(\d+) (?:2xx )?req\/s/m.exec(out)?.[1];
  const bare = /^bare route\s*: +(\d+) (?:2xx )?req\/s/m.exec(out)?.[1];
  if (code !== 0 || ingest === undefined || bare === undefined)
    throw new Error(`the ingest benchmark failed (exit ${String(code)}):\n${out.slice(-2000)}`);
  return { ingest: Number(ingest), bare: Number(bare) };
}

const results: Result[] = [];
for (let round = 1; round <= ROUNDS; round++) {
  for (const setting of settings) {
    const before = spans;
    const { ingest, bare } = await runBench(setting.env);
    const result = { setting: setting.name, round, ingest, bare, spans: spans - before };
    results.push(result);
    console.log(
      `round ${round}  ${setting.name.padEnd(30)} ingest ${String(ingest).padStart(6)} req/s   bare ${String(bare).padStart(6)} req/s   spans received ${result.spans}`,
    );
  }
}
receiver.close();

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const of = (name: string) => results.filter((r) => r.setting === name);
const offIngest = mean(of('off').map((r) => r.ingest));
const offNormalised = mean(of('off').map((r) => r.ingest / r.bare));
console.log('');
console.log('==================== tracing overhead (ingest peak) ====================');
for (const setting of settings) {
  const runs = of(setting.name);
  const ingest = mean(runs.map((r) => r.ingest));
  const normalised = mean(runs.map((r) => r.ingest / r.bare));
  console.log(
    `${setting.name.padEnd(30)} ${ingest.toFixed(0).padStart(6)} req/s (runs: ${runs.map((r) => r.ingest).join(', ')})   vs off ${(ingest / offIngest).toFixed(2)}x   normalised by the bare route ${(normalised / offNormalised).toFixed(2)}x`,
  );
}
console.log('=========================================================================');
