export interface TestStackEndpoints {
  readonly kafkaBrokers: string[];
  readonly schemaRegistryUrl: string;
  readonly databaseUrl: string;
}

/**
 * The stack the integration tests run against. The vitest global setup puts the endpoints in the
 * environment (its own local stack, or the one the caller named with these variables).
 */
export function stackEndpoints(env: NodeJS.ProcessEnv = process.env): TestStackEndpoints {
  const kafka = env['KAFKA_BROKERS'];
  const registry = env['SCHEMA_REGISTRY_URL'];
  const database = env['DATABASE_URL'];
  if (!kafka || !registry || !database) {
    throw new Error(
      'KAFKA_BROKERS, SCHEMA_REGISTRY_URL and DATABASE_URL are not set: run integration tests through vitest (its global setup starts the stack)',
    );
  }
  return {
    kafkaBrokers: kafka
      .split(',')
      .map((b) => b.trim())
      .filter(Boolean),
    schemaRegistryUrl: registry.replace(/\/+$/, ''),
    databaseUrl: database,
  };
}
