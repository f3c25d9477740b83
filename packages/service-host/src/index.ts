export { connectionEnv, intVar, nameVar, parseEnv, ServiceConfigError, type LogLevel } from './env.js';
export { createServiceKafka } from './kafka.js';
export { createOperationsServer, type Readiness } from './operations-server.js';
export { stopOnSignals, runMain } from './shutdown.js';
