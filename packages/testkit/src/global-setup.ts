import { loadStackSettings, stackDown, stackUp } from '@livechat-pipeline/local-stack';
import { chooseTestStack, startContainerStack } from './test-stack.js';

/**
 * Vitest global setup of the integration project. The stack is chosen in one place, `chooseTestStack`:
 * KAFKA_BROKERS, SCHEMA_REGISTRY_URL and DATABASE_URL when all are set; else TEST_STACK=containers (testcontainers
 * on a Docker engine, stopped at the end); else the native local stack (reused when it already runs; only what this
 * setup started is stopped at the end).
 */
export default async function setup(): Promise<() => Promise<void>> {
  const say = (line: string) => process.stderr.write(`stack: ${line}\n`);
  const kind = chooseTestStack();
  if (kind === 'env') {
    say(
      'using the stack named by KAFKA_BROKERS, SCHEMA_REGISTRY_URL and DATABASE_URL as is; the fault-injection tests (*.fault.int.test.ts) need the managed local stack and are left out',
    );
    return async () => undefined;
  }
  if (kind === 'containers') {
    const stack = await startContainerStack(say);
    say(
      'TEST_STACK=containers: the fault-injection tests (*.fault.int.test.ts) need the managed local stack and are left out',
    );
    process.env['KAFKA_BROKERS'] = stack.kafkaBrokers;
    process.env['SCHEMA_REGISTRY_URL'] = stack.schemaRegistryUrl;
    process.env['DATABASE_URL'] = stack.databaseUrl;
    return () => stack.stop();
  }
  const settings = loadStackSettings();
  const { endpoints, started } = await stackUp(settings, say);
  process.env['KAFKA_BROKERS'] = endpoints.kafkaBrokers;
  process.env['SCHEMA_REGISTRY_URL'] = endpoints.schemaRegistryUrl;
  process.env['DATABASE_URL'] = endpoints.databaseUrl;
  // Tests that stop a component (fault injection) need to know they may do so.
  process.env['LOCAL_STACK_MANAGED'] = '1';
  return async () => {
    if (started.length > 0) await stackDown(settings, {});
  };
}
