import path from 'node:path';
import { startDaemon, waitUntil } from './daemon.js';
import { stackDirs, stackEndpoints, type StackSettings } from './settings.js';
import type { JavaRuntime } from './java.js';

export async function registryReady(settings: StackSettings): Promise<boolean> {
  try {
    const response = await fetch(`${stackEndpoints(settings).schemaRegistryUrl}/subjects`, {
      signal: AbortSignal.timeout(1000),
    });
    return response.ok;
  } catch {
    return false;
  }
}

/** Apicurio Registry 3.x (Quarkus), SQL storage on the stack's Postgres so schemas and ids survive restarts. */
export async function startRegistry(
  settings: StackSettings,
  java: JavaRuntime,
  registryJar: string,
): Promise<number> {
  const dirs = stackDirs(settings);
  const logFile = path.join(dirs.logs, 'registry.log');
  const pid = startDaemon({
    name: 'registry',
    command: java.javaBin,
    args: ['-Xmx384m', '-XX:+UseSerialGC', '-jar', registryJar],
    cwd: path.dirname(registryJar),
    env: {
      ...process.env,
      APICURIO_STORAGE_KIND: 'sql',
      APICURIO_STORAGE_SQL_KIND: 'postgresql',
      APICURIO_DATASOURCE_URL: `jdbc:postgresql://127.0.0.1:${settings.postgresPort}/${settings.registryDatabase}`,
      APICURIO_DATASOURCE_USERNAME: settings.postgresUser,
      APICURIO_DATASOURCE_PASSWORD: settings.postgresPassword,
      QUARKUS_HTTP_HOST: '127.0.0.1',
      QUARKUS_HTTP_PORT: String(settings.registryPort),
      // The management interface (health, metrics) is enabled at build time in 3.3 and would
      // listen on all interfaces, port 9000: keep it on loopback, on a port of ours.
      QUARKUS_MANAGEMENT_ENABLED: 'false',
      QUARKUS_MANAGEMENT_HOST: '127.0.0.1',
      QUARKUS_MANAGEMENT_PORT: String(settings.registryManagementPort),
      QUARKUS_LOG_CONSOLE_COLOR: 'false',
    },
    logFile,
    pidFile: path.join(dirs.run, 'registry.pid'),
  });
  await waitUntil('registry', () => registryReady(settings), {
    timeoutMs: settings.startTimeoutMs,
    pid,
    logFile,
  });
  return pid;
}
