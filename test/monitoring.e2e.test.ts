import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { createApiDeps, loadApiConfig } from '@livechat-pipeline/api';
import { createAppDeps, createAppLogger, loadAppConfig, startAppOperations } from '@livechat-pipeline/app';
import { loadCrmSyncConfig, startCrmSync } from '@livechat-pipeline/crm-sync';
import {
  createIngestDeps,
  createIngestMetrics,
  createIngestOperationsServer,
  createLogger,
  loadIngestConfig,
} from '@livechat-pipeline/ingest';
import { loadNormalizerConfig, startNormalizer } from '@livechat-pipeline/normalizer';
import { createOperationsServer } from '@livechat-pipeline/service-host';
import { createTestDatabase, stackEndpoints, uniqueName, waitFor } from '@livechat-pipeline/testkit';
import { loadTranscriptsConfig, startTranscripts } from '@livechat-pipeline/transcripts';

/** prom-client's Registry, as the services hand it out (the test package does not depend on prom-client). */
type Registry = Awaited<ReturnType<typeof startTranscripts>>['metricsRegistry'];

const alertsFile = new URL('../infra/prometheus/alerts.yml', import.meta.url);
const dashboardFile = new URL('../infra/grafana/livechat-pipeline.json', import.meta.url);

/** Series Prometheus makes itself, not a service: `up` for every scrape. */
const PROMETHEUS_OWN = new Set(['up']);
/** Labels every series has without the service setting them: the scrape's target labels, and histograms' `le`. */
const TARGET_LABELS = new Set(['job', 'instance', 'replica', 'le']);
/** Words of PromQL that look like names: aggregations' modifiers, set operators, `offset`, `bool`. */
const KEYWORDS = new Set([
  'by',
  'without',
  'on',
  'ignoring',
  'group_left',
  'group_right',
  'and',
  'or',
  'unless',
  'offset',
  'bool',
  'inf',
  'nan',
]);

/**
 * The metric names a PromQL expression reads: strings, label matchers, ranges and grouping lists removed, then every
 * identifier that is not a function call or a keyword. Histogram series (`_bucket`, `_sum`, `_count`) count as
 * their family.
 */
function metricNames(expr: string): string[] {
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'/g, ' ')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ')
    .replace(/\boffset\s+\w+/g, ' ')
    .replace(/\$\w+/g, ' ');
  const names = new Set<string>();
  for (const match of stripped.matchAll(/(?<![\w.$])([a-zA-Z_:][a-zA-Z0-9_:]*)(\s*\()?/g)) {
    const [, name, call] = match;
    if (call !== undefined || KEYWORDS.has(name!.toLowerCase())) continue;
    names.add(name!.replace(/_(bucket|sum|count)$/, ''));
  }
  return [...names];
}

/** The balanced `( … )` group starting at `open` (an index of '('), or undefined. */
function groupAt(expr: string, open: number): { start: number; end: number } | undefined {
  if (expr[open] !== '(') return undefined;
  let depth = 0;
  for (let i = open; i < expr.length; i++) {
    if (expr[i] === '(') depth++;
    else if (expr[i] === ')' && --depth === 0) return { start: open, end: i + 1 };
  }
  return undefined;
}

/** The innermost `( … )` group around index `at`, or the whole expression. */
function enclosingGroup(expr: string, at: number): string {
  let depth = 0;
  for (let i = at; i >= 0; i--) {
    if (expr[i] === ')') depth++;
    else if (expr[i] === '(' && depth-- === 0) return expr.slice(i, groupAt(expr, i)?.end);
  }
  return expr;
}

/**
 * The labels a PromQL expression relies on, each with the metrics that must have it: a selector's matchers
 * (`name{label="…"}`) belong to that metric; an aggregation's `by`/`without` list to the metrics of its argument
 * (`sum by (l) (…)` or `sum(…) by (l)`); a vector match's `on`/`ignoring`/`group_*` list to the metrics of the
 * innermost parentheses around it (both operands).
 */
function labelUses(expr: string): { label: string; metrics: string[] }[] {
  const code = expr.replace(
    /"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'/g,
    (m) => '"'.padEnd(m.length - 1, ' ') + '"',
  );
  const uses: { label: string; metrics: string[] }[] = [];
  for (const m of code.matchAll(/([a-zA-Z_:][a-zA-Z0-9_:]*)\s*\{([^}]*)\}/g)) {
    const metric = m[1]!.replace(/_(bucket|sum|count)$/, '');
    for (const matcher of m[2]!.matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)/g))
      if (matcher[1] !== '__name__') uses.push({ label: matcher[1]!, metrics: [metric] });
  }
  for (const m of code.matchAll(/\b(by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)/g)) {
    const labels = m[2]!
      .split(',')
      .map((l) => l.trim())
      .filter((l) => l !== '');
    let scope: string;
    if (m[1] === 'by' || m[1] === 'without') {
      const after = m.index + m[0].length;
      const next = after + (code.slice(after).length - code.slice(after).trimStart().length);
      const argument = groupAt(code, next);
      // `sum(…) by (l)`: the argument is the group just before the modifier
      scope = argument ? code.slice(argument.start, argument.end) : enclosingGroup(code, m.index - 1);
      if (!argument) {
        const close = code.slice(0, m.index).trimEnd().length - 1;
        let depth = 0;
        for (let i = close; i >= 0; i--) {
          if (code[i] === ')') depth++;
          else if (code[i] === '(' && --depth === 0) {
            scope = code.slice(i, close + 1);
            break;
          }
        }
      }
    } else scope = enclosingGroup(code, m.index);
    const metrics = metricNames(scope);
    for (const label of labels) uses.push({ label, metrics });
  }
  return uses;
}

/** `label` on `metric` for every use the metric does not have (target labels aside). */
function unknownLabels(expr: string, labelsOf: Map<string, Set<string>>): string[] {
  return labelUses(expr).flatMap(({ label, metrics }) =>
    TARGET_LABELS.has(label)
      ? []
      : metrics
          .filter((metric) => !PROMETHEUS_OWN.has(metric) && !labelsOf.get(metric)?.has(label))
          .map((metric) => `${label} on ${metric} in: ${expr.replace(/\s+/g, ' ').trim()}`),
  );
}

/** Label names of every metric of a registry, as declared (series of labelled metrics may not exist yet). */
function declaredLabels(registry: Registry): Map<string, Set<string>> {
  return new Map(
    registry
      .getMetricsAsArray()
      .map((metric) => [
        metric.name,
        new Set((metric as unknown as { labelNames?: readonly string[] }).labelNames ?? []),
      ]),
  );
}

function ruleExpressions(): string[] {
  const rules = parseYaml(readFileSync(alertsFile, 'utf8')) as {
    groups: { rules: { alert?: string; record?: string; expr: string }[] }[];
  };
  return rules.groups.flatMap((g) => g.rules.map((r) => r.expr));
}

function dashboardExpressions(): string[] {
  interface Panel {
    targets?: { expr: string }[];
    panels?: Panel[];
  }
  const dashboard = JSON.parse(readFileSync(dashboardFile, 'utf8')) as { panels: Panel[] };
  const flat = (panels: Panel[]): Panel[] => panels.flatMap((p) => [p, ...flat(p.panels ?? [])]);
  return flat(dashboard.panels).flatMap((p) => (p.targets ?? []).map((t) => t.expr));
}

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

async function scrape(baseUrl: string): Promise<string> {
  const res = await fetch(`${baseUrl}/metrics`);
  expect(res.status).toBe(200);
  return res.text();
}

/** Metric families of an exposition (`# TYPE <name> <type>`). */
function families(exposition: string): Set<string> {
  return new Set([...exposition.matchAll(/^# TYPE (\S+) \S+$/gm)].map((m) => m[1]!));
}

describe('the names the PromQL extraction finds', () => {
  it('skips functions, keywords, labels, ranges and strings and folds histogram series', () => {
    expect(
      metricNames(
        'histogram_quantile(0.99, sum by (consumer, le) (rate(postgres_consumer_batch_duration_seconds_bucket[$__rate_interval])))',
      ),
    ).toEqual(['postgres_consumer_batch_duration_seconds']);
    expect(
      metricNames(
        'sum by (tenant) (increase(ingest_tenant_webhooks_total[1h] offset 1w)) > 10 unless sum by (tenant) (increase(x_total{a="b or c"}[30m])) > 0 and on (job) up == 0',
      ).sort(),
    ).toEqual(['ingest_tenant_webhooks_total', 'up', 'x_total']);
  });
});

describe('the labels the PromQL parsing finds', () => {
  it('ties matchers to their metric, by/without to the aggregated metrics, on/ignoring to both operands', () => {
    const labelsOf = new Map([
      ['a_total', new Set(['status', 'tenant'])],
      ['b_total', new Set(['code'])],
      ['h_seconds', new Set(['consumer'])],
    ]);
    const ok = [
      'sum by (tenant) (rate(a_total{status=~"5.."}[5m])) or sum by (code) (b_total) and on (job) up == 0',
      'histogram_quantile(0.9, sum(rate(h_seconds_bucket{consumer="x"}[5m])) by (le, consumer))',
      '(sum by (tenant) (a_total) > 1 and on (tenant) sum by (tenant) (a_total offset 1w)) unless on (tenant) a_total',
      'sum without (instance) (b_total{code="x, by (nope)"})',
    ];
    for (const expr of ok) expect(unknownLabels(expr, labelsOf), expr).toEqual([]);
    expect(unknownLabels('sum by (tenantx) (rate(a_total[5m]))', labelsOf)).toHaveLength(1);
    expect(unknownLabels('rate(a_total{http_code="500"}[5m])', labelsOf)).toHaveLength(1);
    expect(unknownLabels('sum(rate(h_seconds_bucket[5m])) by (le, group)', labelsOf)).toHaveLength(1);
    expect(unknownLabels('a_total and on (code) b_total', labelsOf)).toHaveLength(1);
  });
});

describe('the runbook', () => {
  it('has a README line for every alert', () => {
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
    const section = readme.slice(readme.indexOf('## Monitoring and alerts'));
    const rules = parseYaml(readFileSync(alertsFile, 'utf8')) as {
      groups: { rules: { alert?: string }[] }[];
    };
    const alerts = rules.groups.flatMap((g) =>
      g.rules.flatMap((r) => (r.alert === undefined ? [] : [r.alert])),
    );
    expect(alerts.length).toBeGreaterThan(10);
    expect(alerts.filter((alert) => !section.includes(`| \`${alert}\``))).toEqual([]);
  });
});

describe('every metric the alert rules and the dashboard name exists on a service', () => {
  const closers: (() => Promise<unknown>)[] = [];
  const urls: Record<string, string> = {};
  const registries: Registry[] = [];
  const refreshIntervals: Record<string, number> = {};
  const ids = {
    raw: uniqueName('mon-raw'),
    chatEvents: uniqueName('mon-events'),
    group: uniqueName('mon-norm'),
  };

  beforeAll(async () => {
    const endpoints = stackEndpoints();
    const common = {
      KAFKA_BROKERS: endpoints.kafkaBrokers.join(','),
      SCHEMA_REGISTRY_URL: endpoints.schemaRegistryUrl,
    };
    const silent = pino({ level: 'silent' });
    const database = await createTestDatabase('monitoring');
    closers.push(() => database.drop());

    const ingest = async () => {
      const config = loadIngestConfig({
        ...common,
        RAW_WEBHOOK_TOPIC: ids.raw,
        RAW_WEBHOOK_TOPIC_PARTITIONS: '2',
        LIVECHAT_SECRET_KEYS: 'monitoring-test-key',
        INGEST_LOG_LEVEL: 'silent',
      });
      const logger = createLogger(config);
      const metrics = createIngestMetrics({ defaultMetrics: false });
      registries.push(metrics.registry);
      const runtime = await createIngestDeps(config, logger, metrics);
      closers.push(() => runtime.close());
      const server = createIngestOperationsServer({
        readiness: runtime.deps.readiness,
        metrics: runtime.deps.metrics,
      });
      closers.push(() => new Promise((resolve) => server.close(resolve)));
      urls['ingest'] = await listen(server);
    };
    const normalizer = async () => {
      const running = await startNormalizer(
        loadNormalizerConfig({
          ...common,
          RAW_WEBHOOK_TOPIC: ids.raw,
          CHAT_EVENTS_TOPIC: ids.chatEvents,
          CHAT_EVENTS_TOPIC_PARTITIONS: '2',
          NORMALIZER_DLQ_TOPIC: `${ids.raw}.dlq`,
          NORMALIZER_GROUP_ID: ids.group,
          NORMALIZER_METRICS_REFRESH_MS: '200',
        }),
        silent,
      );
      closers.push(() => running.stop());
      registries.push(running.metrics.registry);
      const server = createOperationsServer(running.metrics.registry, async () => ({ ok: true }));
      closers.push(() => new Promise((resolve) => server.close(resolve)));
      urls['normalizer'] = await listen(server);
    };
    const consumers = async () => {
      const transcriptsName = uniqueName('mon-transcripts');
      const transcripts = await startTranscripts(
        loadTranscriptsConfig({
          ...common,
          DATABASE_URL: database.url,
          CHAT_EVENTS_TOPIC: ids.chatEvents,
          TRANSCRIPTS_CONSUMER_NAME: transcriptsName,
          TRANSCRIPTS_SCHEMA: transcriptsName.replace(/[^a-z0-9_]/g, '_'),
          TRANSCRIPTS_METRICS_REFRESH_MS: '200',
        }),
        silent,
      );
      closers.push(() => transcripts.stop());
      refreshIntervals['transcripts'] = transcripts.options.metricsRefreshIntervalMs;
      registries.push(transcripts.metricsRegistry);
      const transcriptsServer = createOperationsServer(transcripts.metricsRegistry, async () => ({
        ok: true,
      }));
      closers.push(() => new Promise((resolve) => transcriptsServer.close(resolve)));
      urls['transcripts'] = await listen(transcriptsServer);

      const crmName = uniqueName('mon-crm');
      const crm = await startCrmSync(
        loadCrmSyncConfig({
          ...common,
          DATABASE_URL: database.url,
          CHAT_EVENTS_TOPIC: ids.chatEvents,
          CRM_CONSUMER_NAME: crmName,
          CRM_SCHEMA: crmName.replace(/[^a-z0-9_]/g, '_'),
        }),
        silent,
        { worker: false },
      );
      closers.push(() => crm.stop());
      registries.push(crm.metricsRegistry);
      const crmServer = createOperationsServer(crm.metricsRegistry, async () => ({ ok: true }));
      closers.push(() => new Promise((resolve) => crmServer.close(resolve)));
      urls['crm-sync'] = await listen(crmServer);
    };
    const api = async () => {
      const deps = await createApiDeps(loadApiConfig({ DATABASE_URL: database.url }), silent);
      closers.push(() => deps.pool.end());
      registries.push(deps.metrics.registry);
      const server = createOperationsServer(deps.metrics.registry, async () => ({ ok: true }));
      closers.push(() => new Promise((resolve) => server.close(resolve)));
      urls['api'] = await listen(server);
    };
    const app = async () => {
      const config = loadAppConfig({
        DATABASE_URL: database.url,
        APP_DB_INGEST_ROLE: 'none',
        APP_TOKEN_KEYS: `k1:${randomBytes(32).toString('base64')}`,
        APP_LOG_LEVEL: 'silent',
      });
      const deps = await createAppDeps(config, createAppLogger(config));
      closers.push(() => deps.close());
      registries.push(deps.metrics.registry);
      const operations = await startAppOperations(deps, { host: '127.0.0.1', port: 0 });
      closers.push(() => operations.close());
      urls['app'] = operations.url;
    };
    // The normalizer waits for the ingest's raw topic, the projections for the normalizer's chat-event topic.
    await Promise.all([ingest(), normalizer(), consumers(), api(), app()]);
  });

  afterAll(async () => {
    for (const close of closers.reverse()) await close().catch(() => undefined);
  });

  it('scrapes every name of alerts.yml and the dashboard from some /metrics', async () => {
    const named = new Set([...ruleExpressions(), ...dashboardExpressions()].flatMap(metricNames));
    expect(named.size).toBeGreaterThan(30);
    const exposed = new Map<string, string>();
    for (const [service, url] of Object.entries(urls))
      for (const family of families(await scrape(url))) exposed.set(family, service);
    const missing = [...named].filter((name) => !PROMETHEUS_OWN.has(name) && !exposed.has(name)).sort();
    expect(missing).toEqual([]);
  });

  it('uses only labels the metrics have (or the scrape adds) in alerts.yml and the dashboard', () => {
    const labelsOf = new Map<string, Set<string>>();
    for (const registry of registries)
      for (const [name, labels] of declaredLabels(registry))
        labelsOf.set(name, new Set([...(labelsOf.get(name) ?? []), ...labels]));
    expect(labelsOf.get('ingest_http_requests_total')).toContain('status');
    const unknown = [...ruleExpressions(), ...dashboardExpressions()].flatMap((expr) =>
      unknownLabels(expr, labelsOf),
    );
    expect(unknown).toEqual([]);
  });

  it('starts the counters whose first occurrence must alert at 0', async () => {
    // increase() ignores a series' first sample: a series created by its first inc() is never seen rising.
    expect(await scrape(urls['ingest']!)).toMatch(/^ingest_spool_refused_total\{reason="full"\} 0$/m);
    expect(await scrape(urls['app']!)).toMatch(
      /^app_agent_api_errors_total\{method="list_archives",code="AGENT_API_AUTHORIZATION"\} 0$/m,
    );
  });

  it('shows the lag of every partition per group while nothing is consumed', async () => {
    // Nothing was ever written: the lag is 0, but each partition has its series, with the group's and topic's labels.
    const series = (partition: number) =>
      `normalizer_partition_lag{group="${ids.group}",topic="${ids.raw}",partition="${partition}"} 0`;
    await waitFor(
      async () => {
        const text = await scrape(urls['normalizer']!);
        return text.includes(series(0)) && text.includes(series(1));
      },
      { message: 'normalizer lag series for both partitions', timeoutMs: 10_000 },
    );
    // The projection's first refresh runs in the background (and may fail while its dead-letter topic is new):
    // wait for its next one (TRANSCRIPTS_METRICS_REFRESH_MS=200).
    expect(refreshIntervals['transcripts']).toBe(200);
    const lag = new RegExp(
      `^postgres_consumer_lag\\{[^}]*topic="${ids.chatEvents}",partition="1"\\} 0$`,
      'm',
    );
    const deadLetters = /^postgres_consumer_dead_letter_topic_records\{[^}]*\} 0$/m;
    await waitFor(
      async () => {
        const text = await scrape(urls['transcripts']!);
        return lag.test(text) && deadLetters.test(text);
      },
      { message: 'transcripts lag series of partition 1 and dead-letter topic size', timeoutMs: 10_000 },
    );
  });
});
