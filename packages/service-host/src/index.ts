export {
  LOG_LEVELS,
  ServiceConfigError,
  boolVar,
  brokersVar,
  deepFreeze,
  httpUrlVar,
  intVar,
  listVar,
  logLevelVar,
  nameVar,
  pgConnectTimeoutVar,
  poolSizeVar,
  POSTGRES_SSL_MODES,
  postgresTlsEnv,
  postgresUrlVar,
  presentEnv,
  readEnv,
  startupTimeoutVar,
  type EnvResult,
  type LogLevel,
} from './env.js';
export {
  SASL_MECHANISMS,
  connectionEnv,
  kafkaClusterEnv,
  parseEnv,
  kafkaClusterFromEnv,
  readKafkaCluster,
  type KafkaClientSecurity,
  type KafkaClusterSettings,
  type SaslMechanism,
} from './cluster.js';
export { createServiceKafka, type ServiceKafkaOptions } from './kafka.js';
export { createServiceLogger, type ServiceLoggerOptions } from './logger.js';
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
export {
  EXPORT_PROBLEM_LOG_INTERVAL_MS,
  SPAN_ATTRIBUTE_MAX_CHARS,
  TRACES_SAMPLERS,
  droppedSpansLog,
  exportProblemLog,
  shutdownTracing,
  startTracing,
  tracingConfigFromEnv,
  tracingEnabled,
  traceLogFields,
  type Tracing,
  type TracingConfig,
  type TracesSamplerName,
} from './tracing.js';
