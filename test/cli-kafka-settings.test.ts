import { describe, expect, it } from 'vitest';
import { AppConfigError, loadAppConfig } from '@livechat-pipeline/app';

/**
 * The app (its service and `pnpm livechat backfill|reconcile`, which write archive records to the raw topic) reads
 * the cluster's TLS and SASL variables as every service does: checked with its configuration, handed to its Kafka
 * client. (The dead-letter CLI's are proven on the broker's SASL_SSL listener: cli-sasl-ssl.managed.int.test.ts.)
 */
describe("the app's Kafka cluster settings", () => {
  it('carries KAFKA_SSL and KAFKA_SASL_* to the archive sink', () => {
    const kafka = loadAppConfig({
      KAFKA_SSL: 'true',
      KAFKA_SSL_REJECT_UNAUTHORIZED: 'false',
      KAFKA_SASL_MECHANISM: 'SCRAM-SHA-512',
      KAFKA_SASL_USERNAME: 'app',
      KAFKA_SASL_PASSWORD: 'secret',
    }).archives.kafka;
    expect(kafka.sasl).toEqual({ mechanism: 'scram-sha-512', username: 'app', password: 'secret' });
    expect(kafka.ssl).toEqual({ rejectUnauthorized: false });
    expect(loadAppConfig({}).archives.kafka).toEqual({
      brokers: ['127.0.0.1:59092'],
      clientId: 'livechat-app',
    });
  });

  it('names every bad cluster variable, without the password', () => {
    const problemsOf = (env: NodeJS.ProcessEnv): string => {
      try {
        loadAppConfig(env);
      } catch (error) {
        expect(error).toBeInstanceOf(AppConfigError);
        return (error as AppConfigError).problems.join('\n');
      }
      throw new Error('expected a configuration error');
    };
    expect(problemsOf({ KAFKA_SASL_MECHANISM: 'gssapi' })).toContain(
      'KAFKA_SASL_MECHANISM: must be one of plain, scram-sha-256, scram-sha-512',
    );
    const problems = problemsOf({
      KAFKA_SSL: 'true',
      KAFKA_SSL_CA_FILE: '/nonexistent/ca.pem',
      KAFKA_SASL_MECHANISM: 'scram-sha-512',
      KAFKA_SASL_PASSWORD: 'hunter2-secret',
    });
    expect(problems).toContain('KAFKA_SSL_CA_FILE: cannot read /nonexistent/ca.pem (ENOENT)');
    expect(problems).toContain('KAFKA_SASL_USERNAME: is needed with KAFKA_SASL_MECHANISM=scram-sha-512');
    expect(problems).not.toContain('hunter2-secret');
  });
});
