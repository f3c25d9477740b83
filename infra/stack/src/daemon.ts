import { spawn } from 'node:child_process';
import { openSync, closeSync, readFileSync, writeFileSync, rmSync, existsSync } from 'node:fs';
import path from 'node:path';
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { StackError } from './errors.js';

export interface DaemonSpec {
  readonly name: string;
  readonly command: string;
  readonly args: readonly string[];
  readonly env?: NodeJS.ProcessEnv;
  readonly cwd?: string;
  readonly logFile: string;
  readonly pidFile: string;
  readonly uid?: number;
  readonly gid?: number;
}

/**
 * Starts a process in its own process group, detached from this one, with its output in a log
 * file, so `stack up` can return and `stack down` can stop the whole group later.
 */
export function startDaemon(spec: DaemonSpec): number {
  const out = openSync(spec.logFile, 'a');
  try {
    const child = spawn(spec.command, [...spec.args], {
      cwd: spec.cwd,
      env: spec.env ?? process.env,
      detached: true,
      stdio: ['ignore', out, out],
      ...(spec.uid !== undefined ? { uid: spec.uid } : {}),
      ...(spec.gid !== undefined ? { gid: spec.gid } : {}),
    });
    if (child.pid === undefined) {
      throw new StackError('STACK_START_FAILED', `${spec.name}: could not start ${spec.command}`);
    }
    child.unref();
    writeFileSync(spec.pidFile, `${child.pid}\n`);
    return child.pid;
  } finally {
    closeSync(out);
  }
}

export function readPid(pidFile: string): number | undefined {
  if (!existsSync(pidFile)) return undefined;
  const pid = Number(readFileSync(pidFile, 'utf8').trim());
  return Number.isInteger(pid) && pid > 0 ? pid : undefined;
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** SIGTERM to the process group, then SIGKILL after the grace period. */
export async function stopDaemon(name: string, pidFile: string, graceMs = 20_000): Promise<boolean> {
  const pid = readPid(pidFile);
  if (pid === undefined || !isAlive(pid)) {
    rmSync(pidFile, { force: true });
    return false;
  }
  signalGroup(pid, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (isAlive(pid) && Date.now() < deadline) await sleep(100);
  if (isAlive(pid)) {
    signalGroup(pid, 'SIGKILL');
    const killDeadline = Date.now() + 5_000;
    while (isAlive(pid) && Date.now() < killDeadline) await sleep(100);
    if (isAlive(pid)) throw new StackError('STACK_STOP_FAILED', `${name} (pid ${pid}) did not stop`);
  }
  rmSync(pidFile, { force: true });
  return true;
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    try {
      process.kill(pid, signal);
    } catch {
      // already gone
    }
  }
}

export function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen({ port, host: '127.0.0.1', exclusive: true }, () => server.close(() => resolve(true)));
  });
}

export async function assertPortFree(port: number, component: string, envName: string): Promise<void> {
  if (!(await portIsFree(port))) {
    throw new StackError(
      'STACK_PORT_IN_USE',
      `port ${port} (${component}) is taken by another process: stop it, or set ${envName} to a free port`,
    );
  }
}

/** Polls until `probe` resolves true; fails with the tail of the component's log. */
export async function waitUntil(
  name: string,
  probe: () => Promise<boolean>,
  opts: { timeoutMs: number; pid?: number; logFile?: string },
): Promise<void> {
  const deadline = Date.now() + opts.timeoutMs;
  while (Date.now() < deadline) {
    if (await probe().catch(() => false)) return;
    if (opts.pid !== undefined && !isAlive(opts.pid)) {
      throw new StackError('STACK_START_FAILED', `${name} exited during start-up${logTail(opts.logFile)}`);
    }
    await sleep(200);
  }
  throw new StackError(
    'STACK_START_FAILED',
    `${name} was not ready within ${opts.timeoutMs} ms${logTail(opts.logFile)}`,
  );
}

export function logTail(logFile: string | undefined, lines = 15): string {
  if (logFile === undefined || !existsSync(logFile)) return '';
  const tail = readFileSync(logFile, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  return `; see ${path.relative(process.cwd(), logFile)}:\n${tail}`;
}
