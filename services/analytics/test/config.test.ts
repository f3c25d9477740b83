import { Kafka, logLevel } from 'kafkajs';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { ServiceConfigError } from '@livechat-pipeline/service-host';
import { loadAnalyticsConfig } from '../src/config.js';
import { consumerOptions } from '../src/consumer.js';

describe('analytics configuration', () => {
  it('has the documented defaults', () => {
    const config = loadAnalyticsConfig({});
    expect(config).toMatchObject({
      consumerName: 'analytics',
      schema: 'analytics',
      chatEventsTopic: { name: 'livechat.chat-events' },
      http: { host: '127.0.0.1', port: 8094 },
      startupTimeoutMs: 60_000,
    });
    expect(config.tenantTimeZones.size).toBe(0);
  });

  it('passes ANALYTICS_METRICS_REFRESH_MS (100 … 600000, default 15000) to the consumer runtime', () => {
    // a client object only: nothing connects
    const kafka = new Kafka({ brokers: ['127.0.0.1:9'], logLevel: logLevel.NOTHING });
    const refreshMs = (env: NodeJS.ProcessEnv) =>
      consumerOptions(loadAnalyticsConfig(env), kafka, pino({ level: 'silent' })).metricsRefreshIntervalMs;
    expect(refreshMs({})).toBe(15_000);
    expect(refreshMs({ ANALYTICS_METRICS_REFRESH_MS: '500' })).toBe(500);
    expect(() => loadAnalyticsConfig({ ANALYTICS_METRICS_REFRESH_MS: '50' })).toThrow(
      /ANALYTICS_METRICS_REFRESH_MS/,
    );
  });

  it('reads tenant time zones as tenant=IANA zone pairs', () => {
    const config = loadAnalyticsConfig({
      ANALYTICS_TENANT_TIME_ZONES: 'f9c7cc55-b35a-4e76-b0d5-ae9fce362314=Europe/Warsaw, 8762851 = Asia/Tokyo',
    });
    expect([...config.tenantTimeZones]).toEqual([
      ['f9c7cc55-b35a-4e76-b0d5-ae9fce362314', 'Europe/Warsaw'],
      ['8762851', 'Asia/Tokyo'],
    ]);
  });

  it('refuses an unknown time zone or a pair without a tenant, naming the variable', () => {
    for (const value of ['acme=Mars/Olympus', '=UTC', 'acme']) {
      const error = (() => {
        try {
          loadAnalyticsConfig({ ANALYTICS_TENANT_TIME_ZONES: value });
        } catch (e) {
          return e;
        }
        return undefined;
      })();
      expect(error, value).toBeInstanceOf(ServiceConfigError);
      expect(String((error as Error).message)).toContain('ANALYTICS_TENANT_TIME_ZONES');
    }
  });
});
