/**
 * Reads a V8 CPU profile (`--cpu-prof`) of the ingest and prints where its CPU went, optionally only inside a time
 * window (the peak run: `peak-window.json`, written by the benchmark next to the profile when BENCH_CPU_PROF_DIR is
 * set, holds its start and end on the monotonic clock the profile's timestamps use).
 *
 *   pnpm --filter @livechat-pipeline/ingest exec tsx bench/profile-summary.ts <dir or .cpuprofile> [top N]
 *
 * Prints the self time per function (top N), per group (the ingest's own code, kafkajs, fastify, pino, the privacy
 * package, node internals, GC, idle, ...) and the total (inclusive) time of a few frames the profile is read for.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

const arg = process.argv[2];
if (arg === undefined) throw new Error('usage: profile-summary.ts <dir or .cpuprofile> [top N]');
const top = Number(process.argv[3] ?? 30);
const dir = statSync(arg).isDirectory() ? arg : undefined;
const file =
  dir === undefined
    ? arg
    : readdirSync(dir)
        .filter((f) => f.endsWith('.cpuprofile'))
        .map((f) => join(dir, f))
        .sort((a, b) => statSync(b).size - statSync(a).size)[0];
if (file === undefined) throw new Error(`no .cpuprofile in ${arg}`);
const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
const window = ((): { start: number; end: number } | undefined => {
  try {
    return JSON.parse(readFileSync(join(dir ?? '.', 'peak-window.json'), 'utf8')) as {
      start: number;
      end: number;
    };
  } catch {
    return undefined;
  }
})();

const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const parent = new Map<number, number>();
for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);

function group(node: ProfileNode): string {
  const { url, functionName } = node.callFrame;
  if (functionName === '(garbage collector)') return 'GC';
  if (functionName === '(idle)') return 'idle';
  if (functionName === '(program)') return 'program (native, unattributed)';
  const m = /node_modules\/(?:\.pnpm\/[^/]+\/node_modules\/)?((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (m?.[1] !== undefined) return m[1];
  if (url.includes('/services/ingest/')) return 'services/ingest';
  const pkg = /\/packages\/([^/]+)\//.exec(url);
  if (pkg?.[1] !== undefined) return `packages/${pkg[1]}`;
  if (url.startsWith('node:')) return 'node internals (js)';
  if (url === '') return `native: ${functionName || '(anonymous)'}`;
  return url;
}

const selfByFn = new Map<string, number>();
const selfByGroup = new Map<string, number>();
const inclusive = new Map<string, number>();
let total = 0;
let t = profile.startTime;
for (let i = 0; i < profile.samples.length; i++) {
  t += profile.timeDeltas[i] ?? 0;
  if (window !== undefined && (t < window.start || t > window.end)) continue;
  const node = byId.get(profile.samples[i] ?? -1);
  if (node === undefined) continue;
  total++;
  const { functionName, url, lineNumber } = node.callFrame;
  const short = url
    .replace(/^.*node_modules\/(\.pnpm\/[^/]+\/node_modules\/)?/, '')
    .replace(/^.*\/(services|packages)\//, '$1/');
  const fnKey = `${functionName || '(anonymous)'} ${short}:${lineNumber + 1}`;
  selfByFn.set(fnKey, (selfByFn.get(fnKey) ?? 0) + 1);
  const g = group(node);
  selfByGroup.set(g, (selfByGroup.get(g) ?? 0) + 1);
  // Inclusive time per function name (each name once per stack).
  const seen = new Set<string>();
  for (let id: number | undefined = node.id; id !== undefined; id = parent.get(id)) {
    const f = byId.get(id);
    if (f === undefined) break;
    const name = `${f.callFrame.functionName || '(anonymous)'} ${f.callFrame.url.replace(/^.*\//, '')}`;
    if (seen.has(name)) continue;
    seen.add(name);
    inclusive.set(name, (inclusive.get(name) ?? 0) + 1);
  }
}
const pct = (n: number) => `${((n / total) * 100).toFixed(1).padStart(5)} %`;
console.log(
  `${file}: ${total} samples${window ? ` in the peak window (${((window.end - window.start) / 1e6).toFixed(1)} s)` : ' (whole run)'}`,
);
console.log('\nself time by group:');
for (const [g, n] of [...selfByGroup].sort((a, b) => b[1] - a[1]).slice(0, 25))
  console.log(`${pct(n)}  ${g}`);
console.log(`\nself time, top ${top} functions:`);
for (const [f, n] of [...selfByFn].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`${pct(n)}  ${f}`);
console.log(`\ninclusive time, top ${top} functions:`);
for (const [f, n] of [...inclusive].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`${pct(n)}  ${f}`);
