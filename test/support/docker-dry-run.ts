/**
 * `pnpm docker:dry-run [service]`: the image of infra/docker/Dockerfile, built and started without Docker.
 *
 * The project's machines have no Docker engine, so this follows the Dockerfile itself: the build context is the
 * repository's files minus .dockerignore; each stage the final stage copies from (`install`, `dashboard`) gets its
 * own copy of the context and runs its RUN lines (`pnpm install` with `--offline` added: the same flags, from the
 * local store); the final stage's COPY, WORKDIR, ENV and state-directory lines build a directory tree laid out as
 * the image (`/repo/...`, `/usr/local/lib/...`, `/var/lib/livechat-pipeline` under one temporary root). Then the
 * image's CMD runs in its WORKDIR with the image's environment and the compose service's (endpoints replaced by
 * the caller's, hosts on loopback, free ports), as the `node` user's uid when run as root, until the image's
 * HEALTHCHECK command says healthy (/healthz) and compose's says ready (/readyz); then SIGTERM, and the process
 * must exit 0. A Dockerfile line it does not know how to follow is an error, never skipped.
 *
 * It does not check what only Docker can: the base image, corepack's pnpm, file ownership inside the image.
 * Exit codes: 0 the service started and stopped cleanly, 1 it did not, 64 bad arguments.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { chmod, chown, cp, mkdir, mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
/** The official node images' `node` user. */
const NODE_UID = 1000;

export interface DryRunOptions {
  /** A folder of services/. */
  readonly service: string;
  /** Given to the service over the compose file's values: its endpoints (DATABASE_URL, KAFKA_BROKERS, …). */
  readonly env: Readonly<Record<string, string>>;
  /** For the whole run: build, start, health, readiness, stop. */
  readonly timeoutMs: number;
  readonly log?: (line: string) => void;
  /** Keep the temporary tree (its path is logged). */
  readonly keep?: boolean;
}

export interface DryRunResult {
  /** Milliseconds per step. */
  readonly steps: Record<string, number>;
  /** The service's exit code after SIGTERM. */
  readonly exitCode: number | null;
  /** The tree laid out as the image, with the paths of the final stage's COPY lines (relative to it). */
  readonly imageRoot: string;
  readonly copied: readonly string[];
}

interface Instruction {
  readonly keyword: string;
  readonly args: string;
}
interface Stage {
  readonly base: string;
  readonly name: string | undefined;
  readonly instructions: Instruction[];
}

/** The Dockerfile's stages and their instructions (continuation lines joined, comments dropped). */
function parseDockerfile(text: string): Stage[] {
  // comment lines go first (as Docker drops them), then continuation lines are joined
  const lines = text
    .split('\n')
    .filter((l) => !l.trim().startsWith('#'))
    .join('\n')
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '');
  const stages: Stage[] = [];
  for (const line of lines) {
    const [, keyword = '', args = ''] = /^(\S+)\s*(.*)$/.exec(line) ?? [];
    if (keyword === 'FROM') {
      const [, base = '', name] = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(args) ?? [];
      stages.push({ base, name, instructions: [] });
    } else if (stages.length > 0) {
      stages.at(-1)!.instructions.push({ keyword: keyword.toUpperCase(), args: args.replace(/\s+/g, ' ') });
    }
  }
  return stages;
}

/** `${NAME}` replaced from `vars` (unknown names are an error: the dry run would build something else). */
function substitute(text: string, vars: Readonly<Record<string, string>>): string {
  return text.replace(/\$\{(\w+)\}/g, (_, name: string) => {
    const value = vars[name];
    if (value === undefined) throw new Error(`Dockerfile: \${${name}} has no value`);
    return value;
  });
}

/** A .dockerignore pattern as a test on a relative path (`**`, `*`; a match also excludes what is under it). */
function ignoreTest(pattern: string): (file: string) => boolean {
  const source = pattern
    .replace(/^\/+/, '')
    .split(/(\*\*\/|\*\*|\*)/)
    .map((part) =>
      part === '**/'
        ? '(?:.*/)?'
        : part === '**'
          ? '.*'
          : part === '*'
            ? '[^/]*'
            : part.replace(/[.+?^${}()|[\]\\]/g, '\\$&'),
    )
    .join('');
  const re = new RegExp(`^${source}(?:/.*)?$`);
  return (file) => re.test(file);
}

/** The build context: the repository's files (tracked and new, not git-ignored) minus .dockerignore. */
async function contextFiles(): Promise<string[]> {
  const listed = await run('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], {
    cwd: repoRoot,
  });
  const ignores = (await readFile(path.join(repoRoot, '.dockerignore'), 'utf8'))
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'))
    .map(ignoreTest);
  const files = listed.split('\0').filter((f) => f !== '' && !ignores.some((ignored) => ignored(f)));
  const present = await Promise.all(
    files.map((f) =>
      stat(path.join(repoRoot, f)).then(
        () => true,
        () => false,
      ),
    ),
  );
  return files.filter((_, i) => present[i]);
}

async function copyContext(files: readonly string[], into: string): Promise<void> {
  await Promise.all(
    files.map(async (file) => {
      await mkdir(path.dirname(path.join(into, file)), { recursive: true });
      await cp(path.join(repoRoot, file), path.join(into, file));
    }),
  );
}

/** Runs a command to its end; its output on failure. */
async function run(
  command: string,
  args: readonly string[],
  options: { cwd: string; env?: NodeJS.ProcessEnv },
): Promise<string> {
  const child = spawn(command, args, { cwd: options.cwd, env: options.env ?? process.env });
  let out = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString('utf8')));
  child.stderr.on('data', (chunk: Buffer) => (out += chunk.toString('utf8')));
  const [code] = (await once(child, 'close')) as [number | null];
  if (code !== 0)
    throw new Error(`${command} ${args.join(' ')} (in ${options.cwd}) exited ${code}:\n${out.slice(-3000)}`);
  return out;
}

async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

interface ComposeService {
  build?: { args?: Record<string, string> };
  environment?: Record<string, string>;
  healthcheck?: { test?: string[] };
}

/** Builds the image's tree for `service` and runs it until healthy and ready, then stops it. */
export async function dockerDryRun(options: DryRunOptions): Promise<DryRunResult> {
  const log = options.log ?? (() => undefined);
  const deadline = Date.now() + options.timeoutMs;
  const steps: Record<string, number> = {};
  const timed = async <T>(step: string, fn: () => Promise<T>): Promise<T> => {
    const started = Date.now();
    const result = await fn();
    steps[step] = Date.now() - started;
    log(`${step}: ${steps[step]} ms`);
    if (Date.now() > deadline) throw new Error(`dry run: over ${options.timeoutMs} ms after "${step}"`);
    return result;
  };

  const stages = parseDockerfile(await readFile(path.join(repoRoot, 'infra/docker/Dockerfile'), 'utf8'));
  const compose = parse(await readFile(path.join(repoRoot, 'infra/compose.yaml'), 'utf8'), {
    merge: true,
  }) as {
    services: Record<string, ComposeService>;
  };
  const composed = Object.values(compose.services).find(
    (s) => s.build?.args?.['SERVICE'] === options.service,
  );
  if (composed === undefined) throw new UsageError(`no compose service builds SERVICE=${options.service}`);
  const final = stages.at(-1)!;
  // the build arguments: the Dockerfile's defaults, then the compose service's
  const args: Record<string, string> = {};
  for (const stage of stages)
    for (const { keyword, args: a } of stage.instructions)
      if (keyword === 'ARG') {
        const [, name = '', value] = /^(\w+)(?:=(.*))?$/.exec(a) ?? [];
        if (value !== undefined) args[name] = value.replace(/^"(.*)"$/, '$1');
      }
  Object.assign(args, composed.build?.args ?? {});

  const tmp = await mkdtemp(path.join(os.tmpdir(), `docker-dry-run-${options.service}-`));
  const imageRoot = path.join(tmp, 'image');
  const inImage = (p: string): string => path.join(imageRoot, p);
  let child: ChildProcess | undefined;
  try {
    const files = await timed('build context', () => contextFiles());

    // the stages the final stage copies from, each in its own copy of the context
    const stageDirs = new Map<string, string>();
    for (const from of new Set(
      final.instructions.flatMap((i) => /--from=(\S+)/.exec(i.args)?.slice(1) ?? []),
    )) {
      const stage = stages.find((s) => s.name === from);
      if (stage === undefined) throw new Error(`Dockerfile: no stage ${from}`);
      const dir = path.join(tmp, `stage-${from}`);
      await timed(`stage ${from}`, async () => {
        await mkdir(dir);
        for (const { keyword, args: a } of stage.instructions) {
          if (keyword === 'ARG') continue;
          if (keyword === 'COPY' && a === '. .') await copyContext(files, dir);
          else if (keyword === 'RUN')
            await run('sh', ['-c', a.replace(/\bpnpm install\b/g, 'pnpm install --offline')], {
              cwd: dir,
              env: { ...process.env, ...args },
            });
          else throw new Error(`dry run cannot follow stage ${from}'s ${keyword} ${a}`);
        }
      });
      // the base stage (pnpm) only enables corepack and sets WORKDIR /repo: the stage's copy is /repo
      stageDirs.set(from, dir);
    }

    // the final stage, laid out under imageRoot
    const env: Record<string, string> = {};
    const stateDirs: string[] = [];
    const copied: string[] = [];
    let workdir = '/';
    let user: string | undefined;
    let command: string[] | undefined;
    let healthcheck: string[] | undefined;
    await timed('final stage', async () => {
      for (const { keyword, args: raw } of final.instructions) {
        if (keyword === 'ARG') continue;
        if (keyword === 'ENV') {
          for (const [, name = '', value = ''] of substitute(raw, args).matchAll(/(\w+)=(\S*)/g))
            env[name] = value;
        } else if (keyword === 'WORKDIR') {
          workdir = path.posix.resolve(workdir, substitute(raw, args));
          await mkdir(inImage(workdir), { recursive: true });
        } else if (keyword === 'COPY') {
          const words = substitute(raw, args).split(' ');
          const from = words.find((w) => w.startsWith('--from='))?.slice('--from='.length);
          if (words.some((w) => w.startsWith('--') && !w.startsWith('--from=')))
            throw new Error(`dry run cannot follow COPY ${raw}`);
          const paths = words.filter((w) => !w.startsWith('--'));
          const rawDest = paths.pop()!;
          const intoDir = paths.length > 1 || rawDest.endsWith('/');
          const dest = path.posix.resolve(workdir, rawDest);
          const sourceRoot = from === undefined ? repoRoot : stageDirs.get(from)!;
          for (const source of paths) {
            // a stage's /repo is its directory; the context's paths are relative to the repository
            const relative = from === undefined ? source : path.posix.relative('/repo', source);
            if (relative.startsWith('..')) throw new Error(`dry run: COPY source ${source} outside /repo`);
            if (from === undefined && !files.includes(relative))
              throw new Error(`dry run: COPY ${source}: not in the build context (.dockerignore?)`);
            const target = intoDir ? path.posix.join(dest, path.posix.basename(source)) : dest;
            await mkdir(path.dirname(inImage(target)), { recursive: true });
            await cp(path.join(sourceRoot, relative), inImage(target), {
              recursive: true,
              verbatimSymlinks: true,
            });
            copied.push(target);
          }
        } else if (keyword === 'RUN') {
          const guard = /^test -n .*\|\| \(echo .*; exit 1\)$/.test(raw);
          const state = /^mkdir -p (\S+) && chown node:node \1$/.exec(raw);
          if (guard) await run('sh', ['-c', raw], { cwd: tmp, env: { ...process.env, ...args } });
          else if (state !== undefined && state !== null) {
            await mkdir(inImage(state[1]!), { recursive: true });
            stateDirs.push(state[1]!);
          } else throw new Error(`dry run cannot follow RUN ${raw}`);
        } else if (keyword === 'USER') user = raw;
        else if (keyword === 'CMD') command = JSON.parse(raw) as string[];
        else if (keyword === 'HEALTHCHECK') {
          const exec = /CMD (\[.*\])$/.exec(raw)?.[1];
          if (exec === undefined) throw new Error(`dry run: HEALTHCHECK not in exec form: ${raw}`);
          healthcheck = JSON.parse(exec) as string[];
        } else throw new Error(`dry run cannot follow ${keyword} ${raw}`);
      }
    });
    if (command === undefined || healthcheck === undefined)
      throw new Error('Dockerfile: no CMD or HEALTHCHECK');
    const readiness = composed.healthcheck?.test;
    if (readiness?.[0] !== 'CMD')
      throw new Error(`compose ${options.service}: healthcheck.test is not ['CMD', …]`);

    // As the node user when we can: the code must run read-only for it, only the state directory writable.
    const asNode = user === 'node' && process.getuid?.() === 0;
    if (asNode) {
      await chmod(tmp, 0o755);
      for (const dir of stateDirs) await chown(inImage(dir), NODE_UID, NODE_UID);
    }

    // the service's environment: the image's, the compose service's, the caller's endpoints; loopback, free ports
    const hostVar = env['OPERATIONS_HOST_VAR'] ?? '';
    const portVar = env['OPERATIONS_PORT_VAR'] ?? '';
    const serviceEnv: Record<string, string> = { ...env };
    for (const [name, value] of Object.entries(composed.environment ?? {})) {
      const fromShell = /^\$\{(\w+):-(.*)\}$/.exec(String(value));
      serviceEnv[name] = fromShell === null ? String(value) : (process.env[fromShell[1]!] ?? fromShell[2]!);
    }
    for (const name of ['KAFKA_BROKERS', 'SCHEMA_REGISTRY_URL', 'DATABASE_URL']) delete serviceEnv[name];
    Object.assign(serviceEnv, options.env);
    for (const name of Object.keys(serviceEnv)) if (name.endsWith('_HOST')) serviceEnv[name] = '127.0.0.1';
    for (const [name, value] of Object.entries(serviceEnv))
      for (const dir of stateDirs) if (value.startsWith(dir)) serviceEnv[name] = inImage(value);
    serviceEnv[hostVar] = '127.0.0.1';
    serviceEnv[portVar] = String(await freePort());
    const publicPortVar = portVar.replace(/_OPERATIONS_PORT$/, '_PORT');
    if (publicPortVar !== portVar) serviceEnv[publicPortVar] = String(await freePort());
    serviceEnv['PATH'] = process.env['PATH'] ?? '/usr/local/bin:/usr/bin:/bin';
    serviceEnv['HOME'] = asNode ? inImage('/home/node') : (process.env['HOME'] ?? '/root');
    // an absolute path of the image (e.g. the health check's script) is its copy under imageRoot
    const reroot = (argv: readonly string[]) =>
      argv.map((a) => (a.startsWith('/') && existsSync(inImage(a)) ? inImage(a) : a));

    let output = '';
    const [program, ...argv] = command;
    child = spawn(program!, argv, {
      cwd: inImage(workdir),
      env: serviceEnv,
      ...(asNode ? { uid: NODE_UID, gid: NODE_UID } : {}),
    });
    child.stdout!.on('data', (chunk: Buffer) => (output = (output + chunk.toString('utf8')).slice(-20_000)));
    child.stderr!.on('data', (chunk: Buffer) => (output = (output + chunk.toString('utf8')).slice(-20_000)));
    const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
    let exitedEarly = false;
    void exited.then(() => (exitedEarly = true));
    const check = async (argv: readonly string[]): Promise<boolean> => {
      const [p, ...rest] = reroot(argv);
      const probe = spawn(p!, rest, { env: serviceEnv, stdio: 'ignore' });
      const [code] = (await once(probe, 'exit')) as [number | null];
      return code === 0;
    };
    const waitUntil = async (step: string, argv: readonly string[]) =>
      timed(step, async () => {
        for (;;) {
          if (exitedEarly) throw new Error(`the service exited before "${step}":\n${output.slice(-4000)}`);
          if (await check(argv)) return;
          if (Date.now() > deadline)
            throw new Error(
              `dry run: "${step}" not answered within ${options.timeoutMs} ms:\n${output.slice(-4000)}`,
            );
          await new Promise((resolve) => setTimeout(resolve, 200));
        }
      });
    await waitUntil('healthy (image HEALTHCHECK, /healthz)', healthcheck);
    await waitUntil('ready (compose healthcheck, /readyz)', readiness.slice(1));
    const [exitCode] = await timed('stopped (SIGTERM)', async () => {
      child!.kill('SIGTERM');
      return exited;
    });
    if (exitCode !== 0) log(`service output:\n${output.slice(-4000)}`);
    return { steps, exitCode, imageRoot, copied };
  } finally {
    if (child !== undefined && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    if (options.keep === true) log(`kept ${tmp}`);
    else await rm(tmp, { recursive: true, force: true });
  }
}

class UsageError extends Error {}

async function main(): Promise<void> {
  const service = process.argv[2] ?? 'api';
  const endpoints = Object.fromEntries(
    ['KAFKA_BROKERS', 'SCHEMA_REGISTRY_URL', 'DATABASE_URL']
      .filter((name) => process.env[name])
      .map((name) => [name, process.env[name]!]),
  );
  try {
    const result = await dockerDryRun({
      service,
      env: endpoints,
      timeoutMs: 120_000,
      keep: process.argv.includes('--keep'),
      log: (line) => console.log(line),
    });
    console.log(`${service}: built, healthy, ready, stopped with exit code ${result.exitCode}`);
    process.exitCode = result.exitCode === 0 ? 0 : 1;
  } catch (error) {
    console.error(error instanceof Error ? error.message : String(error));
    process.exitCode = error instanceof UsageError ? 64 : 1;
  }
}

if (process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url))
  await main();
