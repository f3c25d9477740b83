import { loadStackSettings, stackUp, stopComponent } from '@livechat-pipeline/local-stack';

function assertManaged(what: string): void {
  if (process.env['LOCAL_STACK_MANAGED'] !== '1') {
    throw new Error(`${what} needs the native local stack (the tests were pointed at an external stack)`);
  }
}

/** Stops only the Kafka broker of the local stack (fault-injection tests). */
export async function stopKafka(): Promise<void> {
  assertManaged('stopKafka()');
  await stopComponent('kafka', loadStackSettings());
}

/** Starts the broker again (and anything else that is down) and waits until it is healthy. */
export async function startKafka(): Promise<void> {
  assertManaged('startKafka()');
  await stackUp(loadStackSettings());
}

export async function stopPostgres(): Promise<void> {
  assertManaged('stopPostgres()');
  // The registry keeps its schemas in Postgres; stopping Postgres alone leaves it degraded,
  // which is what a real outage looks like too.
  await stopComponent('postgres', loadStackSettings());
}

export async function startPostgres(): Promise<void> {
  assertManaged('startPostgres()');
  await stackUp(loadStackSettings());
}
