export { stackEndpoints, type TestStackEndpoints } from './endpoints.js';
export { uniqueName } from './names.js';
export { waitFor } from './wait.js';
export { testKafka, createTopic, readTopic, type ReadMessage } from './kafka.js';
export { stopKafka, startKafka, stopPostgres, startPostgres } from './stack-control.js';
export { createTestDatabase, type TestDatabase } from './postgres.js';
