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

const alertsFile = new URL('../infra/prometheus/alerts.yml', import.meta.url);
const dashboardFile = new URL('../infra/grafana/livechat-pipeline.json', import.meta.url);

/** Series Prometheus makes itself, not a service: `up` for every scrape. */
const PROMETHEUS_OWN = new Set(['up']);
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
      const runtime = await createIngestDeps(config, logger, createIngestMetrics({ defaultMetrics: false }));
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
        }),
        silent,
      );
      closers.push(() => transcripts.stop());
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
      const crmServer = createOperationsServer(crm.metricsRegistry, async () => ({ ok: true }));
      closers.push(() => new Promise((resolve) => crmServer.close(resolve)));
      urls['crm-sync'] = await listen(crmServer);
    };
    const api = async () => {
      const deps = await createApiDeps(loadApiConfig({ DATABASE_URL: database.url }), silent);
      closers.push(() => deps.pool.end());
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
      const operations = await startAppOperations(deps, { host: '127.0.0.1', port: 0 });
      closers.push(() => operations.close());
      urls['app'] = operations.url;
    };
    // The normalizer waits for the ingest's raw topic, the projections for the normalizer's chat-event topic.
    await Promise.all([ingest(), normalizer(), consumers(), api(), app()]);
  }, 60_000);

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
    const transcripts = await scrape(urls['transcripts']!);
    expect(transcripts).toMatch(
      new RegExp(`^postgres_consumer_lag\\{[^}]*topic="${ids.chatEvents}",partition="1"\\} 0$`, 'm'),
    );
    expect(transcripts).toMatch(/^postgres_consumer_dead_letter_topic_records\{[^}]*\} 0$/m);
  });
});
