import http from 'node:http';
import net from 'node:net';
import type { StartedNetwork, StartedTestContainer } from 'testcontainers';

/**
 * Which stack the integration tests run on, decided in this one place (the vitest global setup asks it):
 * 1. `env`: KAFKA_BROKERS, SCHEMA_REGISTRY_URL and DATABASE_URL all set — that stack, as is;
 * 2. `containers`: TEST_STACK=containers — Kafka, Apicurio Registry and Postgres from their official images
 *    (as infra/compose.yaml has them) through testcontainers, on a Docker engine;
 * 3. `native`: otherwise — the native local stack (the default on the project's machines).
 */
export type TestStackKind = 'env' | 'containers' | 'native';

export function chooseTestStack(env: NodeJS.ProcessEnv = process.env): TestStackKind {
  const set = (name: string) => (env[name] ?? '').trim() !== '';
  if (set('KAFKA_BROKERS') && set('SCHEMA_REGISTRY_URL') && set('DATABASE_URL')) return 'env';
  const wanted = (env['TEST_STACK'] ?? '').trim();
  if (wanted === 'containers') return 'containers';
  if (wanted === '' || wanted === 'native') return 'native';
  throw new Error(`TEST_STACK=${wanted} is not a test stack: use containers or native (or leave it unset)`);
}

/** Where the Docker engine is expected: DOCKER_HOST (unix:// or tcp://), else /var/run/docker.sock. */
export function dockerEndpoint(
  env: NodeJS.ProcessEnv = process.env,
): { socketPath: string } | { host: string; port: number } {
  const dockerHost = (env['DOCKER_HOST'] ?? '').trim();
  if (dockerHost === '') return { socketPath: '/var/run/docker.sock' };
  if (dockerHost.startsWith('unix://')) return { socketPath: dockerHost.slice('unix://'.length) };
  const url = new URL(dockerHost.replace(/^tcp:/, 'http:'));
  return { host: url.hostname, port: Number(url.port || 2375) };
}

/**
 * Resolves when a Docker engine answers `GET /_ping` at the endpoint of `env`; otherwise rejects with one line
 * saying so (no engine here is the usual case on the project's machines).
 */
export function assertDockerReachable(env: NodeJS.ProcessEnv = process.env, timeoutMs = 3000): Promise<void> {
  const endpoint = dockerEndpoint(env);
  const where = 'socketPath' in endpoint ? endpoint.socketPath : `${endpoint.host}:${endpoint.port}`;
  const fail = (why: string) =>
    new Error(
      `TEST_STACK=containers needs a Docker engine, and none answers at ${where} (${why}); unset TEST_STACK to use the native stack`,
    );
  return new Promise((resolve, reject) => {
    const request = http.get({ ...endpoint, path: '/_ping', timeout: timeoutMs }, (response) => {
      response.resume();
      if (response.statusCode === 200) resolve();
      else reject(fail(`/_ping answered ${response.statusCode}`));
    });
    request.on('timeout', () => request.destroy(new Error(`no answer in ${timeoutMs} ms`)));
    request.on('error', (err: NodeJS.ErrnoException) => reject(fail(err.code ?? err.message)));
  });
}

export interface ContainerStack {
  readonly kafkaBrokers: string;
  readonly schemaRegistryUrl: string;
  readonly databaseUrl: string;
  stop(): Promise<void>;
}

/** A free TCP port on 127.0.0.1 (Kafka must advertise the port the host reaches it on). */
async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Starts Kafka, Apicurio Registry (on its own Postgres) and Postgres as infra/compose.yaml has them. */
export async function startContainerStack(
  log: (line: string) => void = () => undefined,
): Promise<ContainerStack> {
  await assertDockerReachable();
  // Loaded only on this path: the default (native) path does not pay for testcontainers.
  const { GenericContainer, Network, Wait } = await import('testcontainers');
  const started: StartedTestContainer[] = [];
  let network: StartedNetwork | undefined;
  const stop = async () => {
    for (const container of started.reverse()) await container.stop().catch(() => undefined);
    await network?.stop().catch(() => undefined);
  };
  try {
    network = await new Network().start();
    const postgresReady = Wait.forLogMessage(/database system is ready to accept connections/, 2);
    log(
      'containers: postgres:18, registry-db (postgres:18), apache/kafka:4.1.1, apicurio/apicurio-registry:3.3.3',
    );
    const [postgres, registryDb] = await Promise.all([
      new GenericContainer('postgres:18')
        .withEnvironment({ POSTGRES_PASSWORD: 'postgres' })
        .withCommand(['postgres', '-c', 'max_connections=300'])
        .withExposedPorts(5432)
        .withWaitStrategy(postgresReady)
        .start(),
      new GenericContainer('postgres:18')
        .withNetwork(network)
        .withNetworkAliases('registry-db')
        .withEnvironment({ POSTGRES_PASSWORD: 'postgres', POSTGRES_DB: 'schema_registry' })
        .withWaitStrategy(postgresReady)
        .start(),
    ]);
    started.push(postgres, registryDb);
    const kafkaPort = await freePort();
    const [kafka, registry] = await Promise.all([
      new GenericContainer('apache/kafka:4.1.1')
        .withExposedPorts({ container: kafkaPort, host: kafkaPort })
        .withEnvironment({
          KAFKA_NODE_ID: '1',
          KAFKA_PROCESS_ROLES: 'broker,controller',
          KAFKA_LISTENERS: `PLAINTEXT://:${kafkaPort},CONTROLLER://:9093`,
          KAFKA_ADVERTISED_LISTENERS: `PLAINTEXT://127.0.0.1:${kafkaPort}`,
          KAFKA_CONTROLLER_LISTENER_NAMES: 'CONTROLLER',
          KAFKA_LISTENER_SECURITY_PROTOCOL_MAP: 'PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT',
          KAFKA_CONTROLLER_QUORUM_VOTERS: '1@localhost:9093',
          KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR: '1',
          KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR: '1',
          KAFKA_TRANSACTION_STATE_LOG_MIN_ISR: '1',
          KAFKA_SHARE_COORDINATOR_STATE_TOPIC_REPLICATION_FACTOR: '1',
          KAFKA_SHARE_COORDINATOR_STATE_TOPIC_MIN_ISR: '1',
          KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS: '0',
          KAFKA_AUTO_CREATE_TOPICS_ENABLE: 'false',
        })
        .withWaitStrategy(Wait.forLogMessage(/Kafka Server started/))
        .start(),
      new GenericContainer('apicurio/apicurio-registry:3.3.3')
        .withNetwork(network)
        .withEnvironment({
          APICURIO_STORAGE_KIND: 'sql',
          APICURIO_STORAGE_SQL_KIND: 'postgresql',
          APICURIO_DATASOURCE_URL: 'jdbc:postgresql://registry-db:5432/schema_registry',
          APICURIO_DATASOURCE_USERNAME: 'postgres',
          APICURIO_DATASOURCE_PASSWORD: 'postgres',
          QUARKUS_MANAGEMENT_ENABLED: 'false',
        })
        .withExposedPorts(8080)
        .withWaitStrategy(Wait.forHttp('/apis/ccompat/v7/subjects', 8080).forStatusCode(200))
        .start(),
    ]);
    started.push(kafka, registry);
    return {
      kafkaBrokers: `127.0.0.1:${kafkaPort}`,
      schemaRegistryUrl: `http://${registry.getHost()}:${registry.getMappedPort(8080)}/apis/ccompat/v7`,
      databaseUrl: `postgres://postgres:postgres@${postgres.getHost()}:${postgres.getMappedPort(5432)}/postgres`,
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
