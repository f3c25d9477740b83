/**
 * An open-loop pacer: request n is due at start + n / rate (checked on a 1 ms tick) and goes out on a free
 * keep-alive connection, or on a new one when all are busy (LiveChat does not wait for one answer before sending
 * the next webhook), up to `maxConnections`; only beyond that does a request wait (counted as `queued`). Each answer is reported with its wall-clock time
 * (nowMs), so the caller can time what happens after the 200. Minimal HTTP/1.1 over raw sockets, like the
 * ingest benchmark's pacer (services/ingest/bench/paced-load.ts, which a script here cannot import): the client
 * costs little CPU, and answers need a content-length (fastify always sends one).
 */
import { Socket } from 'node:net';
import { nowMs } from './settings.js';

export interface PaceOptions {
  readonly host: string;
  readonly port: number;
  readonly path: string;
  readonly rate: number;
  readonly count: number;
  /** Connections opened up front. */
  readonly connections: number;
  /** The most ever open: a due request beyond them waits for a free one. */
  readonly maxConnections: number;
  readonly request: (n: number) => {
    readonly body: string;
    readonly headers: Readonly<Record<string, string>>;
  };
  /** An answer to request n: its status, when it was sent and when the answer was read (nowMs). */
  readonly onAnswer: (n: number, status: number, sentAtMs: number, answeredAtMs: number) => void;
  /** Request n lost with its connection (no answer). */
  readonly onError: (n: number) => void;
}

export interface PaceResult {
  /** nowMs of request 0's due time. */
  readonly startedAtMs: number;
  /** nowMs when the last request was written. */
  readonly lastSentAtMs: number;
  readonly sent: number;
  /** Requests that found no free connection when due. */
  readonly queued: number;
  /** The most connections open at once. */
  readonly peakConnections: number;
  /** The most any request was written after its due time (ms): the pacer's own lag. */
  readonly maxLagMs: number;
}

/** The result; close() drops the connections once the caller has every answer it waits for. */
export interface PaceRun extends PaceResult {
  close(): void;
}

interface Pending {
  readonly n: number;
  readonly payload: Buffer;
}

class Connection {
  private readonly socket = new Socket();
  private buffer: Buffer = Buffer.alloc(0);
  private current: { n: number; sentAtMs: number } | undefined;
  closed = false;

  constructor(
    host: string,
    port: number,
    private readonly onDone: (conn: Connection, n: number, status: number, sentAtMs: number) => void,
    private readonly onLost: (conn: Connection, n: number | undefined) => void,
  ) {
    this.socket.setNoDelay(true);
    this.socket.on('data', (chunk: Buffer) => this.onData(chunk));
    this.socket.on('error', () => this.fail());
    this.socket.on('close', () => this.fail());
    this.socket.connect(port, host);
  }

  send(pending: Pending): number {
    const sentAtMs = nowMs();
    this.current = { n: pending.n, sentAtMs };
    this.socket.write(pending.payload);
    return sentAtMs;
  }

  close(): void {
    this.closed = true;
    this.socket.destroy();
  }

  private fail(): void {
    if (this.closed) return;
    this.closed = true;
    const n = this.current?.n;
    this.current = undefined;
    this.onLost(this, n);
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
      const current = this.current;
      this.current = undefined;
      if (current !== undefined) this.onDone(this, current.n, status, current.sentAtMs);
    }
  }
}

export async function pace(options: PaceOptions): Promise<PaceRun> {
  const idle: Connection[] = [];
  const backlog: Pending[] = [];
  const all = new Set<Connection>();
  let stopped = false;
  let queued = 0;
  let peakConnections = 0;
  let maxLagMs = 0;
  let lastSentAtMs = 0;
  const interval = 1000 / options.rate;
  let startedAtMs = 0;

  const write = (conn: Connection, pending: Pending): void => {
    const sentAt = conn.send(pending);
    lastSentAtMs = sentAt;
    maxLagMs = Math.max(maxLagMs, sentAt - (startedAtMs + pending.n * interval));
  };
  const next = (conn: Connection): void => {
    const waiting = backlog.shift();
    if (waiting !== undefined) write(conn, waiting);
    else idle.push(conn);
  };
  const open = (): Connection => {
    const conn = new Connection(
      options.host,
      options.port,
      (c, n, status, sentAtMs) => {
        options.onAnswer(n, status, sentAtMs, nowMs());
        next(c);
      },
      (c, n) => {
        all.delete(c);
        const i = idle.indexOf(c);
        if (i >= 0) idle.splice(i, 1);
        if (n !== undefined) options.onError(n);
        if (!stopped) next(open()); // replace the lost connection
      },
    );
    all.add(conn);
    return conn;
  };
  for (let i = 0; i < options.connections; i++) idle.push(open());
  await new Promise((r) => setTimeout(r, 200)); // let the connections establish

  const head = (headers: Readonly<Record<string, string>>): string =>
    Object.entries(headers)
      .map(([k, v]) => `${k}: ${v}\r\n`)
      .join('');
  startedAtMs = nowMs();
  let n = 0;
  await new Promise<void>((resolve) => {
    const tick = (): void => {
      const now = nowMs();
      while (n < options.count && startedAtMs + n * interval <= now) {
        const { body, headers } = options.request(n);
        const payload = Buffer.from(
          `POST ${options.path} HTTP/1.1\r\nhost: ${options.host}:${options.port}\r\n${head(headers)}content-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
        );
        const pending: Pending = { n, payload };
        n++;
        const conn = idle.pop() ?? (all.size < options.maxConnections ? open() : undefined);
        peakConnections = Math.max(peakConnections, all.size);
        if (conn !== undefined)
          write(conn, pending); // a new socket buffers the write until it is connected
        else {
          queued++;
          backlog.push(pending);
        }
      }
      if (n < options.count) setTimeout(tick, 1);
      else resolve();
    };
    tick();
  });
  // the backlog drains as answers free connections; wait for it so lastSentAtMs is the true last write
  while (backlog.length > 0 && all.size > 0) await new Promise((r) => setTimeout(r, 1));
  return {
    startedAtMs,
    lastSentAtMs,
    sent: n,
    queued,
    peakConnections,
    maxLagMs,
    close: () => {
      stopped = true;
      for (const c of all) c.close();
    },
  };
}
