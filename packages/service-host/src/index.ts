export { connectionEnv, intVar, nameVar, parseEnv, startupTimeoutVar, ServiceConfigError, type LogLevel } from './env.js';
export { createServiceKafka } from './kafka.js';
export { createOperationsServer, type Readiness } from './operations-server.js';
export { stopOnSignals, runMain } from './shutdown.js';
export {
  DEFAULT_STARTUP_TIMEOUT_MS,
  STARTUP_ERROR_CODES,
  Startup,
  StartupError,
  isPermanentStartupError,
  isStartupError,
  startupStep,
  type StartupErrorCode,
  type StartupOptions,
  type StepOptions,
} from './startup.js';
