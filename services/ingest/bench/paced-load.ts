/**
 * An open-loop load generator for the "p99 at half the peak rate" measurement: requests are started at evenly
 * spaced times (rate per second, on a 1 ms tick), over a pool of keep-alive connections, and each latency is
 * measured from the request's scheduled start (so a request that had to wait for a free connection counts its
 * wait: no coordinated omission).
 *
 * Why not autocannon's `overallRate`: autocannon gives each connection a quota per second and lets it send back
 * to back until the quota is used, then pauses it until the next second, so all connections burst together at
 * the start of every second (a peak-load burst, then idleness); and it "corrects" coordinated omission with an
 * expected interval of ceil(1 / per-connection rate) = 1 ms, recording a 60 ms response as 60 samples
 * (60, 59, … 1 ms), which weights the high percentiles by latency. Both inflate its p99 well beyond what evenly
 * arriving webhooks see.
 */
import { Socket } from 'node:net';
import type { LoadSample } from './figures.js';

export interface PacedLoadOptions {
  readonly host: string;
  readonly port: number;
  readonly path: string;
  /** Requests per second, spread evenly. */
  readonly rate: number;
  readonly durationS: number;
  /** Connections opened up front and the most ever used (a request waits when all are busy). */
  readonly connections: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: (n: number) => string;
}

export interface PacedLoadResult {
  readonly targetRate: number;
  /**
   * 2xx latencies (ms, from each request's scheduled start), non-2xx answers, errors (a connection lost with the
   * request on it), timeouts (no answer 30 s after the last request was sent); `seconds` is the sending time.
   */
  readonly sample: LoadSample;
  /** Requests that found no free connection at their scheduled time. */
  readonly queued: number;
}

interface Pending {
  readonly scheduledAt: number;
  readonly payload: Buffer;
}

class Connection {
  private readonly socket: Socket;
  private buffer: Buffer = Buffer.alloc(0);
  private current: Pending | undefined;
  busy = false;
  closed = false;

  constructor(
    options: PacedLoadOptions,
    private readonly onDone: (conn: Connection, pending: Pending, status: number) => void,
    private readonly onError: (conn: Connection, pending: Pending | undefined) => void,
  ) {
    this.socket = new Socket();
    this.socket.setNoDelay(true);
    this.socket.on('data', (chunk: Buffer) => this.onData(chunk));
    this.socket.on('error', () => this.fail());
    this.socket.on('close', () => this.fail());
    this.socket.connect(options.port, options.host);
  }

  send(pending: Pending): void {
    this.busy = true;
    this.current = pending;
    this.socket.write(pending.payload);
  }

  close(): void {
    this.closed = true;
    this.socket.destroy();
  }

  private fail(): void {
    if (this.closed) return;
    this.closed = true;
    const pending = this.current;
    this.current = undefined;
    this.onError(this, pending);
  }

  private onData(chunk: Buffer): void {
    this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
    for (;;) {
      const headerEnd = this.buffer.indexOf('\r\n\r\n');
      if (headerEnd < 0) return;
      const head = this.buffer.toString('latin1', 0, headerEnd);
      const status = Number(head.slice(9, 12));
      const length = Number(/\r\ncontent-length:\s*(\d+)/i.exec(head)?.[1] ?? 0);
      const end = headerEnd + 4 + length;
      if (this.buffer.length < end) return;
      this.buffer = this.buffer.subarray(end);
      const pending = this.current;
      this.current = undefined;
      this.busy = false;
      if (pending !== undefined) this.onDone(this, pending, status);
    }
  }
}

export async function pacedLoad(options: PacedLoadOptions): Promise<PacedLoadResult> {
  const okLatencies: number[] = [];
  let non2xx = 0;
  let errors = 0;
  let queuedCount = 0;
  let outstanding = 0;
  const backlog: Pending[] = [];
  const idle: Connection[] = [];
  const all = new Set<Connection>();
  const headerLines = Object.entries(options.headers)
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join('');

  const finish = (pending: Pending, status: number) => {
    if (status >= 200 && status < 300) okLatencies.push(performance.now() - pending.scheduledAt);
    else non2xx++;
    outstanding--;
  };
  const next = (conn: Connection) => {
    const waiting = backlog.shift();
    if (waiting !== undefined) conn.send(waiting);
    else idle.push(conn);
  };
  const open = (): Connection => {
    const conn: Connection = new Connection(
      options,
      (c, pending, status) => {
        finish(pending, status);
        next(c);
      },
      (c, pending) => {
        all.delete(c);
        const i = idle.indexOf(c);
        if (i >= 0) idle.splice(i, 1);
        if (pending !== undefined) {
          errors++;
          outstanding--;
        }
        if (!stopped) next(open()); // replace the lost connection
      },
    );
    all.add(conn);
    return conn;
  };
  let stopped = false;
  for (let i = 0; i < options.connections; i++) idle.push(open());
  await new Promise((r) => setTimeout(r, 200)); // let the connections establish

  const interval = 1000 / options.rate;
  const total = Math.floor(options.rate * options.durationS);
  const started = performance.now();
  let n = 0;
  await new Promise<void>((resolve) => {
    const tick = () => {
      const now = performance.now();
      while (n < total && started + n * interval <= now) {
        const body = options.body(n);
        const payload = Buffer.from(
          `POST ${options.path} HTTP/1.1\r\nhost: ${options.host}:${options.port}\r\n${headerLines}content-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
        );
        const pending: Pending = { scheduledAt: started + n * interval, payload };
        n++;
        outstanding++;
        const conn = idle.pop();
        if (conn !== undefined) conn.send(pending);
        else {
          queuedCount++;
          backlog.push(pending);
        }
      }
      if (n < total) setTimeout(tick, 1);
      else resolve();
    };
    tick();
  });
  const sendEnd = performance.now();
  const drainUntil = sendEnd + 30_000;
  while (outstanding > 0 && performance.now() < drainUntil) await new Promise((r) => setTimeout(r, 5));
  stopped = true;
  for (const c of all) c.close();

  return {
    targetRate: options.rate,
    sample: {
      okLatenciesMs: okLatencies,
      non2xx,
      errors,
      timeouts: outstanding, // no answer 30 s after the last request was sent
      seconds: (sendEnd - started) / 1000,
    },
    queued: queuedCount,
  };
}
