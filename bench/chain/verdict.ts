/**
 * The chain benchmark's figures and verdicts (pure): the headline counts distinct events applied, not records on
 * the topic (redeliveries make duplicates there, which the projection skips); the baseline is compared only when it
 * ran with the projection's parallelism; a run that dead-lettered anything is INVALID.
 */
import { verdictOf, type FigureRow } from '../lib/figures.js';
import { fmt, rate } from '../lib/report.js';

export interface ChainMeasurement {
  /** Distinct event ids the transcripts projection applied (its `_dedup` rows). */
  readonly distinctEvents: number;
  /** Records on the chat-events topic, duplicates included. */
  readonly rawEvents: number;
  /** The chain's time: the normalizer's start until every projection stored the last offsets. */
  readonly seconds: number;
  readonly baseline: {
    readonly seconds: number;
    readonly rows: number;
    readonly connections: number;
    readonly partitions: number;
  };
  readonly projection: { readonly poolSize: number; readonly partitions: number };
  readonly deadLetters: {
    readonly normalizer: number;
    readonly transcripts: number;
    readonly analytics: number;
  };
  readonly targets: { readonly eventsPerS: number; readonly ratio: number };
}

export interface ChainRates {
  /** The headline: distinct events applied per second. */
  readonly distinctPerS: number;
  /** Topic records per second, duplicates included (printed beside the headline, never instead of it). */
  readonly rawPerS: number;
  /** The same distinct events over the baseline's time. */
  readonly baselineDistinctPerS: number;
  readonly ratio: number;
}

export function chainRates(m: ChainMeasurement): ChainRates {
  const distinctPerS = m.distinctEvents / m.seconds;
  const baselineDistinctPerS = m.distinctEvents / m.baseline.seconds;
  return {
    distinctPerS,
    rawPerS: m.rawEvents / m.seconds,
    baselineDistinctPerS,
    ratio: distinctPerS / baselineDistinctPerS,
  };
}

/** Why the run's figures do not measure what they claim, or undefined. */
function invalidReason(m: ChainMeasurement): string | undefined {
  const { normalizer, transcripts, analytics } = m.deadLetters;
  if (normalizer + transcripts + analytics > 0)
    return `dead letters (normalizer ${normalizer}, transcripts ${transcripts}, analytics ${analytics}): not every input was applied`;
  if (m.distinctEvents <= 0) return 'no event reached the projection';
  if (m.distinctEvents > m.rawEvents)
    return `${m.distinctEvents} distinct events applied but only ${m.rawEvents} records on the topic`;
  return undefined;
}

/** Why the baseline is not the projection's equal, or undefined. */
function unequalBaseline(m: ChainMeasurement): string | undefined {
  const { baseline, projection } = m;
  if (baseline.connections === projection.poolSize && baseline.partitions === projection.partitions)
    return undefined;
  return `the baseline ran with ${baseline.connections} connections / ${baseline.partitions} partitions, the projection with a pool of ${projection.poolSize} / ${projection.partitions} partitions`;
}

export function chainFigureRows(m: ChainMeasurement): FigureRow[] {
  const r = chainRates(m);
  const invalid = invalidReason(m);
  const unequal = invalid ?? unequalBaseline(m);
  const rateMet = r.distinctPerS >= m.targets.eventsPerS;
  const ratioMet = r.ratio >= m.targets.ratio;
  const baselineAnchor = `baseline ${rate(r.baselineDistinctPerS)} distinct events/s (${m.baseline.rows} rows in ${fmt(m.baseline.seconds, 2)} s, ${m.baseline.connections} connections, ${m.baseline.partitions} partitions); projection pool ${m.projection.poolSize}, ${m.projection.partitions} partitions`;
  const rows: FigureRow[] = [
    {
      figure: 'chain distinct events applied/s',
      value: `${rate(r.distinctPerS)} (raw ${rate(r.rawPerS)})`,
      target: `>= ${rate(m.targets.eventsPerS)}`,
      anchor: `${m.distinctEvents} distinct ids applied of ${m.rawEvents} chat-events records, in ${fmt(m.seconds, 2)} s`,
      verdict: verdictOf(rateMet, invalid),
      ...(invalid === undefined ? {} : { reason: invalid }),
    },
    {
      figure: 'chain / equal-parallelism baseline',
      value: `${fmt(r.ratio, 3)}x`,
      target: `>= ${m.targets.ratio}x`,
      anchor: baselineAnchor,
      verdict: verdictOf(ratioMet, unequal),
      ...(unequal === undefined ? {} : { reason: unequal }),
    },
    {
      figure: 'goal (either of the two above)',
      value: rateMet ? 'rate' : ratioMet ? 'ratio' : 'neither',
      target: `>= ${rate(m.targets.eventsPerS)}/s or >= ${m.targets.ratio}x`,
      anchor: 'issue 18',
      verdict: verdictOf(rateMet || (ratioMet && unequal === undefined), invalid),
      ...(invalid === undefined ? {} : { reason: invalid }),
    },
  ];
  return rows;
}

/** One chain run with encryption on or off (issue 19), as the on/off comparison needs it. */
export interface PrivacyModeRun {
  /** Distinct event ids the transcripts projection applied. */
  readonly distinctEvents: number;
  readonly seconds: number;
  /** Dead letters of the normalizer and the projections. */
  readonly deadLetters: number;
}

/**
 * The cost of encryption: distinct events/s with it on over the same with it off, on inputs generated alike (same
 * seed and count). INVALID when either run dead-lettered anything or the two applied different numbers of events
 * (they did not do the same work).
 */
export function privacyFigureRow(
  off: PrivacyModeRun,
  on: PrivacyModeRun,
  target: number,
  /** A sample of the encrypted run's chat events: how many were read and how many carried an envelope. */
  sample: { readonly read: number; readonly sealed: number } = { read: 1, sealed: 1 },
): FigureRow {
  const offRate = off.distinctEvents / off.seconds;
  const onRate = on.distinctEvents / on.seconds;
  const ratio = onRate / offRate;
  const invalid =
    sample.sealed === 0
      ? `the run with encryption on produced no sealed chat event (0 of the first ${sample.read} records)`
      : off.deadLetters + on.deadLetters > 0
        ? `dead letters (off ${off.deadLetters}, on ${on.deadLetters}): not every input was applied`
        : off.distinctEvents !== on.distinctEvents
          ? `the runs applied different numbers of distinct events (off ${off.distinctEvents}, on ${on.distinctEvents})`
          : off.distinctEvents <= 0
            ? 'no event reached the projection'
            : undefined;
  return {
    figure: 'chain with encryption on / off',
    value: `${fmt(ratio, 3)}x`,
    target: `>= ${target}x`,
    anchor: `on ${rate(onRate)} distinct events/s (${fmt(on.seconds, 2)} s), off ${rate(offRate)} (${fmt(off.seconds, 2)} s), ${off.distinctEvents} distinct events each`,
    verdict: verdictOf(ratio >= target, invalid),
    ...(invalid === undefined ? {} : { reason: invalid }),
  };
}
