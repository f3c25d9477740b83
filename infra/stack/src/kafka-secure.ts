import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { StackError } from './errors.js';
import { stackDirs, stackEndpoints, type StackSettings } from './settings.js';
import type { JavaRuntime } from './java.js';

/**
 * The broker's second client listener, SASL_SSL (listener name SECURE), so that what a real cluster needs can be
 * tested here: TLS with a throwaway CA the launcher generates on first start (openssl; kept in
 * <STACK_HOME>/kafka/tls, never used for anything else), and SASL with SCRAM-SHA-256, SCRAM-SHA-512 and PLAIN for
 * one user. Always on: an extra listener on the same broker costs nothing at start.
 */
export interface StackSecureKafka {
  /** `127.0.0.1:<STACK_KAFKA_SECURE_PORT>` */
  readonly brokers: string;
  /** PEM of the throwaway CA that signed the broker's certificate (KAFKA_SSL_CA_FILE). */
  readonly caFile: string;
  /** The user of every mechanism (SCRAM credentials are stored in the cluster metadata, PLAIN in the JAAS line). */
  readonly username: string;
  readonly password: string;
}

const USERNAME = 'pipeline';
const PASSWORD = 'pipeline-local-secret';

const tlsDir = (settings: StackSettings) => path.join(path.dirname(stackDirs(settings).kafkaConfig), 'tls');

export function stackSecureKafka(settings: StackSettings): StackSecureKafka {
  return {
    brokers: `127.0.0.1:${settings.kafkaSecurePort}`,
    caFile: path.join(tlsDir(settings), 'ca.pem'),
    username: USERNAME,
    password: PASSWORD,
  };
}

/** The server.properties lines of the SECURE listener (the caller adds it to `listeners` and the protocol map). */
export function secureListenerProperties(settings: StackSettings): string[] {
  const keystore = path.join(tlsDir(settings), 'broker-keystore.pem');
  return [
    'listener.name.secure.sasl.enabled.mechanisms=SCRAM-SHA-256,SCRAM-SHA-512,PLAIN',
    'listener.name.secure.scram-sha-256.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;',
    'listener.name.secure.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;',
    `listener.name.secure.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required user_${USERNAME}="${PASSWORD}";`,
    'listener.name.secure.ssl.keystore.type=PEM',
    `listener.name.secure.ssl.keystore.location=${keystore}`,
    'listener.name.secure.ssl.client.auth=none',
  ];
}

function openssl(args: string[], cwd: string): void {
  const result = spawnSync('openssl', args, { cwd, encoding: 'utf8' });
  if ((result.error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT') {
    throw new StackError(
      'STACK_START_FAILED',
      "openssl is not on the PATH: install it (Debian: apt-get install openssl) for the broker's SASL_SSL listener's throwaway certificate, or start the stack without that listener: STACK_KAFKA_SECURE=0 pnpm stack up",
    );
  }
  if (result.error !== undefined || result.status !== 0) {
    throw new StackError(
      'STACK_START_FAILED',
      `openssl ${args[0]} failed (the launcher makes the broker's throwaway TLS certificate with it): ${(result.error?.message ?? result.stderr).trim().split('\n').slice(-3).join(' ')}`,
    );
  }
}

/**
 * The throwaway CA and the broker's key and certificate (SAN 127.0.0.1 and localhost), made once. The keystore
 * file (key and certificate in one PEM, what Kafka's PEM keystore reads) is written last, by rename, so a run
 * stopped half-way makes them again.
 */
export function ensureBrokerCertificate(settings: StackSettings, log: (line: string) => void): void {
  const dir = tlsDir(settings);
  const keystore = path.join(dir, 'broker-keystore.pem');
  if (existsSync(keystore) && existsSync(path.join(dir, 'ca.pem'))) return;
  log('making a throwaway CA and the broker certificate for the SASL_SSL listener…');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const days = '3650';
  openssl(
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      'ca.key',
      '-out',
      'ca.pem',
      '-days',
      days,
      '-subj',
      '/CN=livechat-pipeline local stack CA',
    ],
    dir,
  );
  openssl(
    [
      'req',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      'broker.key',
      '-out',
      'broker.csr',
      '-subj',
      '/CN=localhost',
    ],
    dir,
  );
  writeFileSync(
    path.join(dir, 'broker.ext'),
    'basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1,DNS:localhost\n',
  );
  openssl(
    [
      'x509',
      '-req',
      '-in',
      'broker.csr',
      '-CA',
      'ca.pem',
      '-CAkey',
      'ca.key',
      '-CAcreateserial',
      '-out',
      'broker.pem',
      '-days',
      days,
      '-extfile',
      'broker.ext',
    ],
    dir,
  );
  const pem = `${readFileSync(path.join(dir, 'broker.key'), 'utf8')}${readFileSync(path.join(dir, 'broker.pem'), 'utf8')}`;
  writeFileSync(`${keystore}.tmp`, pem, { mode: 0o600 });
  renameSync(`${keystore}.tmp`, keystore);
}

/**
 * The SCRAM credentials of the user (both SHA-256 and SHA-512), stored in the cluster metadata through the
 * PLAINTEXT listener with Kafka's own ConfigCommand (kafkajs has no AlterUserScramCredentials). Once per data
 * folder: a marker file in it says it was done (`down --clean` removes both).
 */
export function ensureScramUsers(
  settings: StackSettings,
  java: JavaRuntime,
  classpath: string,
  log4jOpt: string,
  log: (line: string) => void,
): void {
  const marker = path.join(stackDirs(settings).kafkaData, '.scram-users');
  if (existsSync(marker)) return;
  log('adding the SCRAM user of the SASL_SSL listener…');
  // One mechanism per request: the broker refuses two credentials of one user in the same request.
  for (const mechanism of ['SCRAM-SHA-256', 'SCRAM-SHA-512']) {
    const result = spawnSync(
      java.javaBin,
      [
        '-Xmx128m',
        '-XX:TieredStopAtLevel=1',
        log4jOpt,
        '-cp',
        classpath,
        'kafka.admin.ConfigCommand',
        '--bootstrap-server',
        stackEndpoints(settings).kafkaBrokers,
        '--alter',
        '--entity-type',
        'users',
        '--entity-name',
        USERNAME,
        '--add-config',
        `${mechanism}=[iterations=4096,password=${PASSWORD}]`,
      ],
      { encoding: 'utf8' },
    );
    if (result.status !== 0) {
      throw new StackError(
        'STACK_START_FAILED',
        `adding the ${mechanism} user failed: ${(result.stderr || result.stdout).trim().split('\n').slice(-5).join(' ')}`,
      );
    }
  }
  writeFileSync(marker, `${USERNAME}\n`);
}

/** True when the SECURE listener answers a SASL/SCRAM login over TLS (the readiness of the secure profile). */
export async function secureKafkaReady(settings: StackSettings): Promise<boolean> {
  const secure = stackSecureKafka(settings);
  if (!existsSync(secure.caFile)) return false;
  const kafka = new Kafka({
    clientId: 'local-stack-probe',
    brokers: [secure.brokers],
    ssl: { ca: readFileSync(secure.caFile, 'utf8') },
    sasl: { mechanism: 'scram-sha-512', username: secure.username, password: secure.password },
    logLevel: logLevel.NOTHING,
    connectionTimeout: 2000,
    retry: { retries: 0 },
  });
  const admin = kafka.admin();
  try {
    await admin.connect();
    await admin.describeCluster();
    return true;
  } catch {
    return false;
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}
