import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { StackError } from './errors.js';
import { startDaemon, waitUntil } from './daemon.js';
import { stackDirs, stackEndpoints, type StackSettings } from './settings.js';
import type { JavaRuntime } from './java.js';
import { ensureBrokerCertificate, ensureScramUsers, secureListenerProperties } from './kafka-secure.js';

function serverProperties(settings: StackSettings, dataDir: string): string {
  const secure = settings.kafkaSecure ? `,SECURE://127.0.0.1:${settings.kafkaSecurePort}` : '';
  return [
    '# Written by the local-stack launcher on every start; edit infra/stack/src/kafka.ts instead.',
    'process.roles=broker,controller',
    'node.id=1',
    `controller.quorum.voters=1@127.0.0.1:${settings.kafkaControllerPort}`,
    `listeners=PLAINTEXT://127.0.0.1:${settings.kafkaPort},CONTROLLER://127.0.0.1:${settings.kafkaControllerPort}${secure}`,
    `advertised.listeners=PLAINTEXT://127.0.0.1:${settings.kafkaPort}${secure}`,
    `listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT${settings.kafkaSecure ? ',SECURE:SASL_SSL' : ''}`,
    ...(settings.kafkaSecure ? secureListenerProperties(settings) : []),
    'controller.listener.names=CONTROLLER',
    'inter.broker.listener.name=PLAINTEXT',
    `log.dirs=${dataDir}`,
    'num.partitions=1',
    'default.replication.factor=1',
    'offsets.topic.replication.factor=1',
    'offsets.topic.num.partitions=10',
    'transaction.state.log.replication.factor=1',
    'transaction.state.log.min.isr=1',
    'share.coordinator.state.topic.replication.factor=1',
    'share.coordinator.state.topic.min.isr=1',
    'min.insync.replicas=1',
    'group.initial.rebalance.delay.ms=0',
    // The services create their topics with the settings they need.
    'auto.create.topics.enable=false',
    'log.retention.hours=-1',
    '',
  ].join('\n');
}

const log4jConfig = (logFile: string) =>
  [
    'status = error',
    'appender.file.type = File',
    'appender.file.name = file',
    `appender.file.fileName = ${logFile}`,
    'appender.file.layout.type = PatternLayout',
    'appender.file.layout.pattern = [%d] %p %m (%c)%n',
    'rootLogger.level = info',
    'rootLogger.appenderRef.file.ref = file',
    'logger.kafka.name = kafka',
    'logger.kafka.level = info',
    'logger.apache.name = org.apache.kafka',
    'logger.apache.level = info',
    '',
  ].join('\n');

export async function kafkaReady(settings: StackSettings): Promise<boolean> {
  const kafka = new Kafka({
    clientId: 'local-stack-probe',
    brokers: [stackEndpoints(settings).kafkaBrokers],
    logLevel: logLevel.NOTHING,
    connectionTimeout: 1000,
    retry: { retries: 0 },
  });
  const admin = kafka.admin();
  try {
    await admin.connect();
    const cluster = await admin.describeCluster();
    return cluster.brokers.length > 0 && cluster.controller !== null;
  } catch {
    return false;
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

export async function startKafkaBroker(
  settings: StackSettings,
  java: JavaRuntime,
  classpath: string,
  log: (line: string) => void,
): Promise<number> {
  const dirs = stackDirs(settings);
  mkdirSync(dirs.kafkaConfig, { recursive: true });
  mkdirSync(dirs.kafkaData, { recursive: true });
  const propsFile = path.join(dirs.kafkaConfig, 'server.properties');
  const log4jFile = path.join(dirs.kafkaConfig, 'log4j2.properties');
  const logFile = path.join(dirs.logs, 'kafka.log');
  if (settings.kafkaSecure) ensureBrokerCertificate(settings, log);
  writeFileSync(propsFile, serverProperties(settings, dirs.kafkaData));
  writeFileSync(log4jFile, log4jConfig(logFile));
  const log4jOpt = `-Dlog4j2.configurationFile=${log4jFile}`;
  if (!existsSync(path.join(dirs.kafkaData, 'meta.properties'))) {
    log('formatting the Kafka (KRaft) log folder…');
    const format = spawnSync(
      java.javaBin,
      [
        log4jOpt,
        '-cp',
        classpath,
        'kafka.tools.StorageTool',
        'format',
        '-t',
        randomBytes(16).toString('base64url'),
        '-c',
        propsFile,
      ],
      { encoding: 'utf8' },
    );
    if (format.status !== 0) {
      throw new StackError(
        'STACK_START_FAILED',
        `kafka storage format failed: ${(format.stderr || format.stdout).trim().split('\n').slice(-5).join(' ')}`,
      );
    }
  }
  const pid = startDaemon({
    name: 'kafka',
    command: java.javaBin,
    args: [
      `-Xmx${settings.kafkaHeap}`,
      '-Xms128m',
      '-XX:+UseG1GC',
      '-Djava.awt.headless=true',
      log4jOpt,
      '-cp',
      classpath,
      'kafka.Kafka',
      propsFile,
    ],
    logFile: path.join(dirs.logs, 'kafka.out'),
    pidFile: path.join(dirs.run, 'kafka.pid'),
  });
  await waitUntil('kafka', () => kafkaReady(settings), { timeoutMs: settings.startTimeoutMs, pid, logFile });
  if (settings.kafkaSecure) ensureScramUsers(settings, java, classpath, log4jOpt, log);
  return pid;
}
