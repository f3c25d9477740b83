import { mkdtempSync, writeFileSync } from 'node:fs';
import { Writable } from 'node:stream';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  ServiceConfigError,
  connectionEnv,
  createServiceKafka,
  createServiceLogger,
  kafkaClusterFromEnv,
  parseEnv,
  postgresUrlVar,
  readEnv,
  readKafkaCluster,
} from '../src/index.js';

const dir = mkdtempSync(path.join(tmpdir(), 'cluster-test-'));
const pem = (name: string) => {
  const file = path.join(dir, name);
  writeFileSync(file, `-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n`);
  return file;
};
const ca = pem('ca.pem');
const cert = pem('client.pem');
const key = pem('client.key');
const notPem = path.join(dir, 'not.pem');
writeFileSync(notPem, 'hello');

function problems(env: NodeJS.ProcessEnv): string[] {
  const result = readKafkaCluster(env);
  return result.ok ? [] : result.problems;
}

describe('Kafka cluster settings', () => {
  it('defaults to plaintext, no SASL, replication 1 with min.insync.replicas 1', () => {
    expect(kafkaClusterFromEnv({})).toEqual({
      replicationFactor: 1,
      minInsyncReplicas: 1,
      allowSingleInsyncReplica: false,
    });
  });

  it('reads TLS files and SASL credentials into the kafkajs options', () => {
    const settings = kafkaClusterFromEnv({
      KAFKA_SSL: 'true',
      KAFKA_SSL_CA_FILE: ca,
      KAFKA_SSL_CERT_FILE: cert,
      KAFKA_SSL_KEY_FILE: key,
      KAFKA_SASL_MECHANISM: 'SCRAM-SHA-512',
      KAFKA_SASL_USERNAME: 'svc',
      KAFKA_SASL_PASSWORD: 'pw',
      KAFKA_REPLICATION_FACTOR: '3',
    });
    expect(settings.ssl).toMatchObject({ rejectUnauthorized: true });
    expect(settings.ssl === true ? '' : settings.ssl?.ca).toContain('BEGIN CERTIFICATE');
    expect(settings.sasl).toEqual({ mechanism: 'scram-sha-512', username: 'svc', password: 'pw' });
    expect(settings.minInsyncReplicas).toBe(2);
  });

  it('names the variable of an unknown mechanism, an unreadable file and a file that is not PEM', () => {
    expect(
      problems({
        KAFKA_SSL: 'true',
        KAFKA_SSL_CA_FILE: path.join(dir, 'missing.pem'),
        KAFKA_SASL_MECHANISM: 'gssapi',
      }),
    ).toEqual(['KAFKA_SASL_MECHANISM: must be one of plain, scram-sha-256, scram-sha-512']);
    expect(problems({ KAFKA_SSL: 'true', KAFKA_SSL_CA_FILE: path.join(dir, 'missing.pem') })).toEqual([
      `KAFKA_SSL_CA_FILE: cannot read ${path.join(dir, 'missing.pem')} (ENOENT)`,
    ]);
    expect(problems({ KAFKA_SSL: 'true', KAFKA_SSL_CA_FILE: notPem })).toEqual([
      `KAFKA_SSL_CA_FILE: ${notPem} is not a PEM file (no -----BEGIN line)`,
    ]);
    expect(problems({ KAFKA_SSL: 'maybe' })).toEqual(['KAFKA_SSL: must be true or false (or 1/0, yes/no)']);
  });

  it('refuses half-given credentials, naming what is missing and never echoing a password', () => {
    expect(
      problems({ KAFKA_SSL: 'true', KAFKA_SASL_MECHANISM: 'plain', KAFKA_SASL_USERNAME: 'svc' }),
    ).toEqual(['KAFKA_SASL_PASSWORD: is needed with KAFKA_SASL_USERNAME']);
    expect(problems({ KAFKA_SASL_MECHANISM: 'scram-sha-256' })).toEqual([
      'KAFKA_SASL_USERNAME: is needed with KAFKA_SASL_MECHANISM=scram-sha-256',
      'KAFKA_SASL_PASSWORD: is needed with KAFKA_SASL_MECHANISM=scram-sha-256',
    ]);
    const secret = 'hunter2-secret';
    const found = problems({ KAFKA_SASL_USERNAME: 'svc', KAFKA_SASL_PASSWORD: secret });
    expect(found).toEqual([
      'KAFKA_SASL_USERNAME: is set without KAFKA_SASL_MECHANISM',
      'KAFKA_SASL_PASSWORD: is set without KAFKA_SASL_MECHANISM',
    ]);
    expect(found.join('\n')).not.toContain(secret);
    expect(problems({ KAFKA_SSL: 'true', KAFKA_SSL_CERT_FILE: cert })).toEqual([
      'KAFKA_SSL_KEY_FILE: is needed with KAFKA_SSL_CERT_FILE (a client certificate is a certificate and its key)',
    ]);
    expect(problems({ KAFKA_SSL_CA_FILE: ca })).toEqual([
      'KAFKA_SSL_CA_FILE: is set but KAFKA_SSL is not true',
    ]);
  });

  it('refuses min.insync.replicas 1 on a replicated cluster unless told otherwise, and more than the replicas', () => {
    expect(problems({ KAFKA_REPLICATION_FACTOR: '3', KAFKA_MIN_INSYNC_REPLICAS: '1' })).toEqual([
      expect.stringMatching(
        /^KAFKA_MIN_INSYNC_REPLICAS: 1 with KAFKA_REPLICATION_FACTOR=3 is refused: .*KAFKA_ALLOW_SINGLE_INSYNC_REPLICA=true/,
      ),
    ]);
    expect(
      kafkaClusterFromEnv({
        KAFKA_REPLICATION_FACTOR: '3',
        KAFKA_MIN_INSYNC_REPLICAS: '1',
        KAFKA_ALLOW_SINGLE_INSYNC_REPLICA: 'true',
      }).minInsyncReplicas,
    ).toBe(1);
    expect(problems({ KAFKA_REPLICATION_FACTOR: '2', KAFKA_MIN_INSYNC_REPLICAS: '3' })).toEqual([
      'KAFKA_MIN_INSYNC_REPLICAS: 3 is more than KAFKA_REPLICATION_FACTOR (2): no write with acks=all could ever succeed',
    ]);
    expect(kafkaClusterFromEnv({ KAFKA_REPLICATION_FACTOR: '2' }).minInsyncReplicas).toBe(2);
  });

  it('throws one ServiceConfigError listing every problem', () => {
    const error = (() => {
      try {
        kafkaClusterFromEnv({ KAFKA_SASL_MECHANISM: 'scram-sha-256', KAFKA_SSL_CERT_FILE: cert });
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(error).toBeInstanceOf(ServiceConfigError);
    expect((error as ServiceConfigError).code).toBe('SERVICE_BAD_CONFIG');
    expect((error as Error).message).toBe(
      [
        'invalid Kafka cluster configuration:',
        '  KAFKA_SSL_CERT_FILE: is set but KAFKA_SSL is not true',
        '  KAFKA_SSL_KEY_FILE: is needed with KAFKA_SSL_CERT_FILE (a client certificate is a certificate and its key)',
        '  KAFKA_SASL_USERNAME: is needed with KAFKA_SASL_MECHANISM=scram-sha-256',
        '  KAFKA_SASL_PASSWORD: is needed with KAFKA_SASL_MECHANISM=scram-sha-256',
      ].join('\n'),
    );
  });

  it('refuses SASL PLAIN without TLS (the password in clear text) unless told it is a local broker', () => {
    const plain = { KAFKA_SASL_MECHANISM: 'plain', KAFKA_SASL_USERNAME: 'svc', KAFKA_SASL_PASSWORD: 'pw' };
    expect(problems(plain)).toEqual([
      'KAFKA_SASL_MECHANISM: plain sends the password in clear text without TLS: set KAFKA_SSL=true (or use scram-sha-512; KAFKA_ALLOW_SASL_PLAIN_WITHOUT_SSL=true accepts it, for a local broker only)',
    ]);
    expect(problems({ ...plain, KAFKA_SSL: 'true' })).toEqual([]);
    expect(problems({ ...plain, KAFKA_ALLOW_SASL_PLAIN_WITHOUT_SSL: 'true' })).toEqual([]);
    expect(problems({ ...plain, KAFKA_SASL_MECHANISM: 'scram-sha-512' })).toEqual([]);
  });

  it("warns once a client is made that does not verify the brokers' certificates", () => {
    const lines: string[] = [];
    const logger = createServiceLogger(
      { service: 'svc', level: 'info' },
      new Writable({
        write(chunk: Buffer, _enc, done) {
          lines.push(chunk.toString('utf8'));
          done();
        },
      }),
    );
    const brokers = ['127.0.0.1:1'];
    createServiceKafka({
      clientId: 'svc',
      brokers,
      logger,
      security: kafkaClusterFromEnv({ KAFKA_SSL: 'true' }),
    });
    expect(lines).toEqual([]);
    createServiceKafka({
      clientId: 'svc',
      brokers,
      logger,
      security: kafkaClusterFromEnv({ KAFKA_SSL: 'true', KAFKA_SSL_REJECT_UNAUTHORIZED: 'false' }),
    });
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0]!)).toMatchObject({
      level: 40,
      msg: expect.stringContaining('KAFKA_SSL_REJECT_UNAUTHORIZED=false'),
    });
  });

  it("names the cluster problems in the same error as the service's own (parseEnv with connectionEnv)", () => {
    const schema = z.object({ ...connectionEnv('svc') });
    expect(() =>
      parseEnv(schema, { KAFKA_BROKERS: 'nohostport', KAFKA_SASL_MECHANISM: 'scram-sha-256' }, 'svc'),
    ).toThrow(
      [
        'invalid svc configuration:',
        '  KAFKA_BROKERS.0: each broker must be host:port',
        '  KAFKA_SASL_USERNAME: is needed with KAFKA_SASL_MECHANISM=scram-sha-256',
        '  KAFKA_SASL_PASSWORD: is needed with KAFKA_SASL_MECHANISM=scram-sha-256',
      ].join('\n'),
    );
  });

  it('is part of connectionEnv, so a service names a bad value with its own variables', () => {
    const schema = z.object({ ...connectionEnv('svc') });
    expect(() => parseEnv(schema, { KAFKA_SASL_MECHANISM: 'kerberos' }, 'svc')).toThrow(
      'KAFKA_SASL_MECHANISM: must be one of plain, scram-sha-256, scram-sha-512',
    );
  });
});

describe('Postgres TLS settings', () => {
  const schema = z.object({ ...connectionEnv('svc'), DATABASE_URL: postgresUrlVar().optional() });
  const pgProblems = (env: NodeJS.ProcessEnv) => {
    const result = readEnv(schema, env);
    return result.ok ? [] : result.problems;
  };

  it('accepts sslmode and readable certificate files in the URL', () => {
    expect(
      pgProblems({
        DATABASE_URL: `postgres://u:p@db:5432/x?sslmode=verify-full&sslrootcert=${ca}&sslcert=${cert}&sslkey=${key}`,
        PGSSLMODE: 'verify-full',
      }),
    ).toEqual([]);
  });

  it('takes a Unix-socket URL, which is no WHATWG URL but one node-postgres takes', () => {
    expect(pgProblems({ DATABASE_URL: 'postgres://u:p@/db?host=/var/run/postgresql' })).toEqual([]);
    expect(pgProblems({ DATABASE_URL: 'postgresql:///db?host=/tmp&sslmode=disable' })).toEqual([]);
  });

  it('names the variable of an unknown sslmode, an unreadable CA file or a certificate without its key', () => {
    const missing = path.join(dir, 'nope.pem');
    expect(
      pgProblems({ DATABASE_URL: `postgres://db/x?sslmode=verify_full&sslrootcert=${missing}` }),
    ).toEqual([
      'DATABASE_URL: sslmode=verify_full is not one of disable, prefer, require, verify-ca, verify-full, no-verify',
      `DATABASE_URL: sslrootcert=${missing} cannot be read (ENOENT)`,
    ]);
    expect(pgProblems({ DATABASE_URL: `postgres://db/x?sslmode=verify-full&sslcert=${cert}` })).toEqual([
      'DATABASE_URL: sslcert needs sslkey',
    ]);
    expect(pgProblems({ PGSSLMODE: 'on' })).toEqual([
      'PGSSLMODE: must be one of disable, prefer, require, verify-ca, verify-full, no-verify',
    ]);
  });

  it('never echoes the URL (it holds the password)', () => {
    const found = pgProblems({ DATABASE_URL: 'postgres://u:s3cr3t-pw@db/x?sslmode=bogus' });
    expect(found).toHaveLength(1);
    expect(found.join('\n')).not.toContain('s3cr3t-pw');
  });
});
