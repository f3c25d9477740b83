import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { CallOutcome, Endpoint } from './hubspot/client.js';

/** crm-sync's own metrics, beside the consumer runtime's (`postgres_consumer_*`) in the same registry. */
export function createCrmMetrics(registry: Registry) {
  const calls = new Counter({
    name: 'crm_sync_hubspot_calls_total',
    help: 'HubSpot calls by endpoint and outcome (HTTP status, timeout, network)',
    labelNames: ['endpoint', 'outcome'],
    registers: [registry],
  });
  const rateLimited = new Counter({
    name: 'crm_sync_hubspot_rate_limited_total',
    help: 'HubSpot 429 answers by policyName (TEN_SECONDLY_ROLLING, SECONDLY, DAILY)',
    labelNames: ['policy'],
    registers: [registry],
  });
  const threads = new Counter({
    name: 'crm_sync_threads_synced_total',
    help: 'Thread syncs by outcome: created (a new note), updated, unchanged, found (a note an ambiguous create had made)',
    labelNames: ['outcome'],
    registers: [registry],
  });
  const failures = new Counter({
    name: 'crm_sync_failures_total',
    help: 'Failed thread syncs by error code (each is retried, or dead-lettered for CRM_HUBSPOT_REJECTED)',
    labelNames: ['code'],
    registers: [registry],
  });
  const deadLetters = new Counter({
    name: 'crm_sync_dead_letters_total',
    help: 'Threads moved to crm.dead_letters',
    registers: [registry],
  });
  const lookups = new Counter({
    name: 'crm_sync_note_lookups_total',
    help: 'Look-ups of a note by its sync key after an ambiguous create, by whether the note was there',
    labelNames: ['found'],
    registers: [registry],
  });
  const accountsPaused = new Gauge({
    name: 'crm_sync_accounts_paused',
    help: "HubSpot accounts whose work is paused until the daily limit's reset",
    registers: [registry],
  });
  const accountsBroken = new Gauge({
    name: 'crm_sync_accounts_broken',
    help: 'HubSpot accounts whose token HubSpot refused (401/403); their work waits',
    registers: [registry],
  });
  const pending = new Gauge({
    name: 'crm_sync_outbox_pending',
    help: 'Outbox rows waiting to be synced',
    registers: [registry],
  });
  const closeToNote = new Histogram({
    name: 'crm_sync_close_to_note_seconds',
    help: "From the consumer recording a thread's close to its note created in HubSpot",
    buckets: [0.5, 1, 2, 5, 10, 30, 60, 300, 1800, 3600],
    registers: [registry],
  });
  const notesErased = new Counter({
    name: 'crm_sync_erased_notes_total',
    help: 'Notes of erased threads archived in HubSpot (its recycling bin keeps them restorable for 90 days): deleted, or gone already (404)',
    labelNames: ['outcome'],
    registers: [registry],
  });
  return {
    notesErased,
    calls,
    rateLimited,
    threads,
    failures,
    deadLetters,
    lookups,
    accountsPaused,
    accountsBroken,
    pending,
    closeToNote,
    onCall: (endpoint: Endpoint, outcome: CallOutcome) => calls.inc({ endpoint, outcome: String(outcome) }),
  };
}

export type CrmMetrics = ReturnType<typeof createCrmMetrics>;
