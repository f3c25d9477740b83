import { loadStackSettings, stackDown, stackUp } from '@livechat-pipeline/local-stack';

/**
 * Vitest global setup of the integration project: uses KAFKA_BROKERS, SCHEMA_REGISTRY_URL and
 * DATABASE_URL when all are set; otherwise brings up the native local stack (reusing it when it
 * already runs) and stops at the end only what it started itself.
 */
export default async function setup(): Promise<() => Promise<void>> {
  if (process.env['KAFKA_BROKERS'] && process.env['SCHEMA_REGISTRY_URL'] && process.env['DATABASE_URL']) {
    process.stderr.write(
      'stack: using the stack named by KAFKA_BROKERS, SCHEMA_REGISTRY_URL and DATABASE_URL as is; the fault-injection tests (*.fault.int.test.ts) need the managed local stack and are left out\n',
    );
    return async () => undefined;
  }
  const settings = loadStackSettings();
  const { endpoints, started } = await stackUp(settings, (line) => process.stderr.write(`stack: ${line}\n`));
  process.env['KAFKA_BROKERS'] = endpoints.kafkaBrokers;
  process.env['SCHEMA_REGISTRY_URL'] = endpoints.schemaRegistryUrl;
  process.env['DATABASE_URL'] = endpoints.databaseUrl;
  // Tests that stop a component (fault injection) need to know they may do so.
  process.env['LOCAL_STACK_MANAGED'] = '1';
  return async () => {
    if (started.length > 0) await stackDown(settings, {});
  };
}
