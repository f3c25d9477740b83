import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { readPid, isAlive, stopDaemon, assertPortFree } from './daemon.js';
import { findJava } from './java.js';
import { withStackLock } from './lock.js';
import { ensureArtifacts } from './artifacts.js';
import { ensureDatabase, ensureRoles, postgresReady, startPostgres } from './postgres.js';
import { kafkaReady, startKafkaBroker } from './kafka.js';
import { secureKafkaReady } from './kafka-secure.js';
import { registryReady, startRegistry } from './registry.js';
import {
  loadStackSettings,
  stackDirs,
  stackEndpoints,
  type StackEndpoints,
  type StackSettings,
} from './settings.js';

export type StackComponent = 'postgres' | 'kafka' | 'registry';
/** Start order; stop order is the reverse. */
export const stackComponents: readonly StackComponent[] = ['postgres', 'kafka', 'registry'];

export interface ComponentStatus {
  readonly component: StackComponent;
  readonly pid: number | undefined;
  readonly running: boolean;
  readonly ready: boolean;
  readonly rssMb: number | undefined;
}

export interface StackUpResult {
  readonly endpoints: StackEndpoints;
  /** Components this call started (empty when everything was already up). */
  readonly started: StackComponent[];
}

type Log = (line: string) => void;
const silent: Log = () => undefined;

const pidFile = (settings: StackSettings, component: StackComponent) =>
  path.join(stackDirs(settings).run, `${component}.pid`);

const readiness: Record<StackComponent, (s: StackSettings) => Promise<boolean>> = {
  postgres: postgresReady,
  kafka: kafkaReady,
  registry: registryReady,
};

const portOf = (s: StackSettings, c: StackComponent): [number, string][] =>
  c === 'postgres'
    ? [[s.postgresPort, 'STACK_POSTGRES_PORT']]
    : c === 'kafka'
      ? [
          [s.kafkaPort, 'STACK_KAFKA_PORT'],
          [s.kafkaControllerPort, 'STACK_KAFKA_CONTROLLER_PORT'],
          [s.kafkaSecurePort, 'STACK_KAFKA_SECURE_PORT'],
        ]
      : [
          [s.registryPort, 'STACK_REGISTRY_PORT'],
          [s.registryManagementPort, 'STACK_REGISTRY_MANAGEMENT_PORT'],
        ];

function ownPid(settings: StackSettings, component: StackComponent): number | undefined {
  const pid = readPid(pidFile(settings, component));
  return pid !== undefined && isAlive(pid) ? pid : undefined;
}

function rssMb(pid: number): number | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const match = /VmRSS:\s+(\d+) kB/.exec(status);
    return match?.[1] === undefined ? undefined : Math.round(Number(match[1]) / 1024);
  } catch {
    return undefined;
  }
}

export async function stackStatus(settings: StackSettings = loadStackSettings()): Promise<ComponentStatus[]> {
  return Promise.all(
    stackComponents.map(async (component) => {
      const pid = ownPid(settings, component);
      const ready = pid !== undefined && (await readiness[component](settings));
      return {
        component,
        pid,
        running: pid !== undefined,
        ready,
        rssMb: pid === undefined ? undefined : rssMb(pid),
      };
    }),
  );
}

/** Starts whatever is not running, in order, and waits until each is healthy. A second call is a no-op. */
export async function stackUp(
  settings: StackSettings = loadStackSettings(),
  log: Log = silent,
): Promise<StackUpResult> {
  return withStackLock(stackDirs(settings).run, settings.startTimeoutMs * 3, () =>
    stackUpLocked(settings, log),
  );
}

async function stackUpLocked(settings: StackSettings, log: Log): Promise<StackUpResult> {
  const dirs = stackDirs(settings);
  for (const dir of [dirs.logs, dirs.run, dirs.data]) mkdirSync(dir, { recursive: true });
  const started: StackComponent[] = [];
  const needed = stackComponents.filter((c) => ownPid(settings, c) === undefined);
  if (needed.length > 0) {
    for (const component of needed) {
      for (const [port, envName] of portOf(settings, component))
        await assertPortFree(port, component, envName);
    }
    // Check Java before anything starts, so a missing JDK is the first and only message.
    const registryJava = findJava(21, 'the schema registry (Apicurio Registry 3.x)');
    const kafkaJava = findJava(17, 'Kafka 4.x');
    const artifacts = needed.some((c) => c !== 'postgres')
      ? ensureArtifacts(settings, kafkaJava, log)
      : undefined;
    for (const component of needed) {
      log(`starting ${component}…`);
      const t0 = Date.now();
      if (component === 'postgres') await startPostgres(settings, log);
      if (component === 'kafka') await startKafkaBroker(settings, kafkaJava, artifacts!.kafkaClasspath, log);
      if (component === 'registry') {
        await ensureDatabase(settings, settings.registryDatabase);
        await startRegistry(settings, registryJava, artifacts!.registryJar);
      }
      log(`${component} ready in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
      started.push(component);
    }
  }
  // Already-running components must also answer before we call the stack up.
  for (const component of stackComponents) {
    if (!started.includes(component) && !(await readiness[component](settings))) {
      log(`waiting for ${component}…`);
      const deadline = Date.now() + settings.startTimeoutMs;
      while (!(await readiness[component](settings))) {
        if (Date.now() > deadline) throw new Error(`${component} is running but not ready; see ${dirs.logs}`);
        await new Promise((r) => setTimeout(r, 200));
      }
    }
  }
  if (settings.kafkaSecure && !started.includes('kafka') && !(await secureKafkaReady(settings))) {
    log(
      `kafka has no SASL_SSL listener on ${settings.kafkaSecurePort} (started by an older launcher, or still settling): restart the broker for it (pnpm stack down && pnpm stack up)`,
    );
  }
  await ensureRoles(settings);
  return { endpoints: stackEndpoints(settings), started };
}

/** Stops the given components (default: all) in reverse start order; data is kept unless `clean`. */
export async function stackDown(
  settings: StackSettings = loadStackSettings(),
  opts: { clean?: boolean; components?: readonly StackComponent[] } = {},
  log: Log = silent,
): Promise<StackComponent[]> {
  return withStackLock(stackDirs(settings).run, settings.startTimeoutMs * 3, () =>
    stackDownLocked(settings, opts, log),
  );
}

async function stackDownLocked(
  settings: StackSettings,
  opts: { clean?: boolean; components?: readonly StackComponent[] },
  log: Log,
): Promise<StackComponent[]> {
  const stopped: StackComponent[] = [];
  const which = opts.components ?? stackComponents;
  for (const component of [...stackComponents].reverse()) {
    if (!which.includes(component)) continue;
    if (await stopDaemon(component, pidFile(settings, component))) {
      log(`stopped ${component}`);
      stopped.push(component);
    }
  }
  if (opts.clean) {
    rmSync(stackDirs(settings).data, { recursive: true, force: true });
    log('removed the stack data');
  }
  return stopped;
}

/** Stops one component and leaves the rest running (fault-injection tests stop the broker this way). */
export async function stopComponent(
  component: StackComponent,
  settings: StackSettings = loadStackSettings(),
): Promise<void> {
  await stackDown(settings, { components: [component] });
}

export function stackLogFiles(settings: StackSettings = loadStackSettings()): Record<StackComponent, string> {
  const logs = stackDirs(settings).logs;
  return {
    postgres: path.join(logs, 'postgres.log'),
    kafka: path.join(logs, 'kafka.log'),
    registry: path.join(logs, 'registry.log'),
  };
}
