export {
  loadStackSettings,
  stackEndpoints,
  StackConfigError,
  type StackSettings,
  type StackEndpoints,
} from './settings.js';
export { stackUp, stackDown, stackStatus, stopComponent, stackLogFiles, stackComponents } from './stack.js';
export type { StackComponent, ComponentStatus, StackUpResult } from './stack.js';
export { StackError } from './errors.js';
export { ensureLoginRole } from './postgres.js';
export { stackSecureKafka, secureKafkaReady, type StackSecureKafka } from './kafka-secure.js';
