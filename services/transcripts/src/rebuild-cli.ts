/**
 * pnpm transcripts:rebuild — truncates the transcripts tables, dedup records and offsets, then
 * replays livechat.chat-events from the earliest offsets with a progress bar. Interrupted, run it
 * again: it resumes. Stop the live transcripts service first. Sealed events are opened as the service opens them
 * (PRIVACY_KEYS): an erased chat's rows come back without their personal values.
 */
import { createServiceLogger } from '@livechat-pipeline/service-host';
import { progressWriter, rebuild } from '@livechat-pipeline/postgres-consumer';
import { loadTranscriptsConfig, type TranscriptsConfig } from './config.js';
import { consumerOptions, createTranscriptsKafka, transcriptsConsumer } from './consumer.js';
import { ChatEventOpener, openPrivacyVault } from './privacy.js';

/**
 * The rebuild consumes every partition at once (as many as TRANSCRIPTS_POOL_SIZE has connections) unless TRANSCRIPTS_PARTITIONS_CONCURRENTLY says otherwise: measured
 * with `pnpm bench:rebuild` (1 million sealed chat events, 6 partitions, pool 6), 94 s against 158 s with the
 * service's 3 (partitions waiting for a turn leave the pool and Postgres idle).
 */
function rebuildConfig(config: TranscriptsConfig, env: NodeJS.ProcessEnv): TranscriptsConfig {
  // Blank is unset, as for every variable.
  if ((env['TRANSCRIPTS_PARTITIONS_CONCURRENTLY'] ?? '').trim() !== '') return config;
  const partitionsConcurrently = Math.max(
    config.consumer.partitionsConcurrently,
    Math.min(config.chatEventsTopic.partitions, config.consumer.poolSize), // a connection each
  );
  return { ...config, consumer: { ...config.consumer, partitionsConcurrently } };
}

async function main(): Promise<void> {
  const config = rebuildConfig(loadTranscriptsConfig(process.env), process.env);
  const logger = createServiceLogger({ service: 'transcripts-rebuild', level: 'warn' });
  const kafka = createTranscriptsKafka(config, logger);
  const progress = progressWriter(process.stderr);
  let last: Parameters<typeof progress.update>[0] | undefined;
  const privacy = await openPrivacyVault(config.privacy);
  const opener = new ChatEventOpener(privacy?.vault ?? null, { service: 'transcripts' });
  const result = await rebuild(transcriptsConsumer(config, opener, { rebuild: true }), {
    ...consumerOptions(config, kafka, logger),
    onProgress: (snapshot) => progress.update((last = snapshot)),
  }).finally(() => privacy?.close());
  if (last !== undefined) progress.finish(last);
  process.stderr.write(
    `\nrebuilt ${config.schema} from ${result.total} events in ${(result.durationMs / 1000).toFixed(1)} s${result.resumed ? ' (resumed)' : ''}\n`,
  );
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  },
);
