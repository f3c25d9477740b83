import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, closeSync, openSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * One service of the pipeline as a child process, started the way `npm start` (scripts/main.ts) starts it:
 * `node [flags] --import tsx services/<name>/src/main.ts` with its environment. Its output goes straight to a log
 * file of the run (appended across restarts; the file, not a pipe, so a process never depends on the suite's
 * own). `kill()` is SIGKILL: nothing of the process's shutdown path runs.
 *
 * When the process exits without being killed by the suite, `onUnplannedExit` is told and the process is started
 * again, as a supervisor (systemd, Kubernetes) would.
 */
export interface ServiceProcessOptions {
  readonly name: 'ingest' | 'normalizer' | 'transcripts' | 'analytics' | 'crm-sync';
  readonly root: string;
  readonly env: NodeJS.ProcessEnv;
  readonly nodeFlags: readonly string[];
  /** Answers 200 once the process can work (for the ingest: its webhook port's /healthz, i.e. it listens). */
  readonly readyUrl: string;
  readonly logFile: string;
  readonly onUnplannedExit: (name: string, code: number | null, signal: NodeJS.Signals | null) => void;
}

export class ServiceProcess {
  readonly name: ServiceProcessOptions['name'];
  #child: ChildProcess | undefined;
  #exited: Promise<void> = Promise.resolve();
  #ready: Promise<void> = Promise.resolve();
  #readyNow = false;
  readonly #killed = new WeakSet<ChildProcess>();
  #closing = false;
  #starts = 0;

  /** Every service process of this suite still running: killed when the suite itself is interrupted. */
  static readonly #running = new Set<ChildProcess>();

  constructor(private readonly options: ServiceProcessOptions) {
    this.name = options.name;
  }

  /** SIGKILLs every service process still running (the suite was interrupted). */
  static killAll(): void {
    for (const child of ServiceProcess.#running) child.kill('SIGKILL');
  }

  /** Starts the process; the promise settles once it answers ready (or rejects at the deadline). */
  start(readyTimeoutMs: number): Promise<void> {
    this.#starts++;
    const { root, name, env, nodeFlags } = this.options;
    const log = openSync(this.options.logFile, 'a');
    let child: ChildProcess;
    try {
      child = spawn(
        process.execPath,
        [...nodeFlags, '--import', 'tsx', path.join(root, 'services', name, 'src', 'main.ts')],
        { cwd: root, env, stdio: ['ignore', log, log] },
      );
    } finally {
      closeSync(log);
    }
    this.#child = child;
    ServiceProcess.#running.add(child);
    this.#mark(`${name} start #${this.#starts} (pid ${child.pid ?? '?'})`);
    this.#exited = new Promise((resolve) =>
      child.once('exit', (code, signal) => {
        ServiceProcess.#running.delete(child);
        this.#mark(`${name} pid ${child.pid ?? '?'} exited (${signal ?? code})`);
        resolve();
        if (!this.#closing && this.#child === child && !this.#killed.has(child)) {
          this.options.onUnplannedExit(name, code, signal);
          void this.start(readyTimeoutMs).catch(() => undefined);
        }
      }),
    );
    this.#readyNow = false;
    this.#ready = this.#waitReady(child, readyTimeoutMs).then(() => {
      if (this.#child === child && this.isAlive()) this.#readyNow = true;
    });
    return this.#ready;
  }

  /**
   * Resolves once the current process answers ready (it may still be starting). A process the suite kills before
   * it was ready resolves too: the next start has its own readiness.
   */
  ready(): Promise<void> {
    return this.#ready;
  }

  /** Answered ready since its last start (and not killed since). */
  isReady(): boolean {
    return this.#readyNow && this.isAlive();
  }

  isAlive(): boolean {
    const child = this.#child;
    return child !== undefined && child.exitCode === null && child.signalCode === null;
  }

  /** SIGKILL, and waits until the process is gone. */
  async kill(): Promise<void> {
    const child = this.#child;
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
    this.#killed.add(child);
    child.kill('SIGKILL');
    await this.#exited;
  }

  /** The end of the run: SIGTERM (graceful), SIGKILL after the grace period. */
  async close(graceMs = 15_000): Promise<void> {
    this.#closing = true;
    const child = this.#child;
    if (child !== undefined && child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await this.#exited;
      clearTimeout(timer);
    }
  }

  #mark(line: string): void {
    appendFileSync(this.options.logFile, `--- fault suite: ${line}\n`);
  }

  async #waitReady(child: ChildProcess, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (this.#killed.has(child)) return;
      if (child.exitCode !== null || child.signalCode !== null)
        throw new Error(`${this.name} (pid ${child.pid ?? '?'}) exited before it was ready`);
      try {
        const response = await fetch(this.options.readyUrl, { signal: AbortSignal.timeout(2_000) });
        await response.body?.cancel();
        if (response.status === 200) return;
      } catch {
        // not listening yet
      }
      await sleep(100);
    }
    throw new Error(`${this.name} not ready at ${this.options.readyUrl} within ${timeoutMs} ms`);
  }
}
