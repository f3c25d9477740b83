import type { RegisteredSchema, SchemaRegistryClient } from '@livechat-pipeline/events';
import type { Kafka } from 'kafkajs';

export interface ReadinessCheck {
  readonly name: 'kafka' | 'schema_registry' | 'schema' | 'spool';
  readonly ok: boolean;
  readonly detail?: string;
}

export interface ReadinessReport {
  readonly ready: boolean;
  /** Ready, but webhooks go to the on-disk spool (Kafka down or slow, or the spool not drained yet). */
  readonly spooling?: boolean;
  readonly checks: readonly ReadinessCheck[];
}

export interface ReadinessProbe {
  check(): Promise<ReadinessReport>;
}

export interface StackReadinessOptions {
  readonly kafka: Kafka;
  readonly registry: SchemaRegistryClient;
  readonly topic: string;
  readonly schema: RegisteredSchema;
  readonly timeoutMs?: number;
}

/** Ready = the raw topic's metadata can be read from Kafka and the registry serves our schema id. */
export class StackReadiness implements ReadinessProbe {
  constructor(private readonly options: StackReadinessOptions) {}

  async check(): Promise<ReadinessReport> {
    const timeoutMs = this.options.timeoutMs ?? 2000;
    const [kafka, registry] = await Promise.all([
      probe('kafka', timeoutMs, () => this.kafkaReachable()),
      probe('schema_registry', timeoutMs, async () => {
        await this.options.registry.getSchemaById(this.options.schema.id);
      }),
    ]);
    const schema: ReadinessCheck = {
      name: 'schema',
      ok: this.options.schema.id > 0 || this.options.schema.id === 0,
    };
    const checks = [kafka, registry, schema];
    return { ready: checks.every((c) => c.ok), checks };
  }

  private async kafkaReachable(): Promise<void> {
    const admin = this.options.kafka.admin({ retry: { retries: 0 } });
    try {
      await admin.connect();
      const metadata = await admin.fetchTopicMetadata({ topics: [this.options.topic] });
      const partitions = metadata.topics[0]?.partitions ?? [];
      if (partitions.length === 0 || partitions.some((p) => p.leader < 0)) {
        throw new Error(`topic ${this.options.topic} has no leader for some partitions`);
      }
    } finally {
      await admin.disconnect().catch(() => undefined);
    }
  }
}

async function probe(
  name: ReadinessCheck['name'],
  timeoutMs: number,
  fn: () => Promise<void>,
): Promise<ReadinessCheck> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      fn(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
      }),
    ]);
    return { name, ok: true };
  } catch (err) {
    return { name, ok: false, detail: err instanceof Error ? err.message.slice(0, 200) : 'unreachable' };
  } finally {
    clearTimeout(timer);
  }
}

/**
 * A probe whose answer is reused for `ttlMs`: a burst of /readyz calls costs at most one check (one Kafka admin
 * connection, one registry request) per period; calls during a check wait for that check.
 */
export class CachedReadiness implements ReadinessProbe {
  private last: { readonly at: number; readonly report: ReadinessReport } | undefined;
  private inFlight: Promise<ReadinessReport> | undefined;

  constructor(
    private readonly probe: ReadinessProbe,
    private readonly ttlMs: number,
    private readonly now: () => number = () => performance.now(),
  ) {}

  check(): Promise<ReadinessReport> {
    const last = this.last;
    if (last !== undefined && this.now() - last.at < this.ttlMs) return Promise.resolve(last.report);
    this.inFlight ??= this.probe
      .check()
      .then((report) => {
        this.last = { at: this.now(), report };
        return report;
      })
      .finally(() => {
        this.inFlight = undefined;
      });
    return this.inFlight;
  }
}

/**
 * With the spool on, the ingest can take webhooks while Kafka is down: it stays ready (200) and says
 * "degraded: spooling" while it spools or Kafka's check fails; it is not ready (503) only while it spools and the
 * spool is full. The registry is not needed to spool (the schema id is known since start-up).
 */
export class SpoolingReadiness implements ReadinessProbe {
  constructor(
    private readonly stack: ReadinessProbe,
    private readonly publisher: { readonly mode: 'direct' | 'spooling'; readonly refusing: boolean },
  ) {}

  async check(): Promise<ReadinessReport> {
    const stack = await this.stack.check();
    const spooling = this.publisher.mode === 'spooling' || !stack.ready;
    // Not ready only when webhooks would be refused: spooling with the spool full.
    const spoolOk = !this.publisher.refusing;
    return {
      ready: spoolOk,
      spooling,
      checks: [
        ...stack.checks,
        spoolOk
          ? { name: 'spool', ok: true }
          : { name: 'spool', ok: false, detail: 'spool full (INGEST_SPOOL_MAX_BYTES)' },
      ],
    };
  }
}

/** What /readyz shows callers: which checks passed, never why one failed (broker and registry errors stay in the log). */
export function publicReport(report: ReadinessReport): {
  ok: boolean;
  status: 'ready' | 'not_ready' | 'degraded: spooling';
  checks: { name: string; ok: boolean }[];
} {
  return {
    ok: report.ready,
    status: !report.ready ? 'not_ready' : report.spooling === true ? 'degraded: spooling' : 'ready',
    checks: report.checks.map((c) => ({ name: c.name, ok: c.ok })),
  };
}
