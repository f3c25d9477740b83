export { FakeHubSpot, startFakeHubSpot } from './server.js';
export { FaultInjector, randomFaultPlan } from './faults.js';
export type { Fault, FaultPlan, FaultTarget, RandomFaultSpec } from './faults.js';
export { BATCH_LIMIT, CONTACT_PROPERTIES, NOTE_BODY_LIMIT, NOTE_TO_CONTACT } from './state.js';
export type { FakeContact, FakeHubSpotOptions, FakeNote, RecordedCall } from './state.js';
