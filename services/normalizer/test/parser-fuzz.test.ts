import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { chatEventSchema } from '@livechat-pipeline/events';
import {
  CHAT_EVENT_TYPES,
  LIVECHAT_PARSE_ERROR_CODES,
  LiveChatParseError,
  parseWebhook,
} from '@livechat-pipeline/livechat';
import { bodyText, fuzzRuns, fuzzSeed, hostileBody } from './support/hostile-bodies.js';

const SEED = fuzzSeed(20_261_128);
const RUNS = fuzzRuns(5_000);
/** Per body, generous for a loaded 2-core machine: the parser is linear, the biggest bodies are a few MB. */
const PER_BODY_MS = 2_000;
const UUID_V8 = /^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('parser fuzz (pure)', () => {
  it(`maps every hostile body to events that fit the Avro schema, or refuses it with a typed error (seed ${SEED}, FUZZ_SEED to change)`, () => {
    const avro = chatEventSchema().type;
    const counts = { bodies: 0, mapped: 0, events: 0, refused: new Map<string, number>(), slowestMs: 0 };
    fc.assert(
      fc.property(hostileBody, (body) => {
        // As the normalizer gets it: JSON text, parsed.
        const parsed = JSON.parse(bodyText(body)) as unknown;
        const started = performance.now();
        let outcome: 'mapped' | string;
        try {
          const events = parseWebhook(parsed, {
            rawEventId: 'raw-fuzz',
            receivedAtMicros: 1_795_600_000_000_000,
            tenantHint: null,
          });
          for (const event of events) {
            expect(event.event_id).toMatch(UUID_V8);
            expect(CHAT_EVENT_TYPES).toContain(event.type);
            // Whatever the parser returns, the normalizer must be able to encode.
            avro.toBuffer(event);
          }
          counts.events += events.length;
          outcome = 'mapped';
        } catch (error) {
          if (!(error instanceof LiveChatParseError)) throw error;
          expect(LIVECHAT_PARSE_ERROR_CODES).toContain(error.code);
          outcome = error.code;
        }
        const ms = performance.now() - started;
        counts.slowestMs = Math.max(counts.slowestMs, ms);
        expect(ms).toBeLessThan(PER_BODY_MS);
        counts.bodies += 1;
        if (outcome === 'mapped') counts.mapped += 1;
        else counts.refused.set(outcome, (counts.refused.get(outcome) ?? 0) + 1);
      }),
      { seed: SEED, numRuns: RUNS },
    );
    console.log(
      `parser fuzz: seed ${SEED}, ${counts.bodies} bodies, ${counts.mapped} mapped into ${counts.events} events, refused ${JSON.stringify(Object.fromEntries(counts.refused))}, slowest ${counts.slowestMs.toFixed(0)} ms`,
    );
    expect(counts.bodies).toBe(RUNS);
    expect(counts.mapped).toBeGreaterThan(RUNS / 2);
  }, 120_000);
});
