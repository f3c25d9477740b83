/**
 * pnpm analytics:rebuild — truncates the analytics tables, dedup records and offsets, then
 * replays livechat.chat-events from the earliest offsets with a progress bar. Interrupted, run it
 * again: it resumes. Stop the live analytics service first. Sealed events are opened as the service opens them
 * (PRIVACY_KEYS): an erased chat's rating comments come back null, every count the same.
 */
import { createServiceLogger } from '@livechat-pipeline/service-host';
import { progressWriter, rebuild } from '@livechat-pipeline/postgres-consumer';
import { loadAnalyticsConfig } from './config.js';
import { consumerOptions, createAnalyticsKafka, analyticsConsumer } from './consumer.js';
import { ChatEventOpener, openPrivacyVault } from './privacy.js';

async function main(): Promise<void> {
  const config = loadAnalyticsConfig(process.env);
  const logger = createServiceLogger({ service: 'analytics-rebuild', level: 'warn' });
  const kafka = createAnalyticsKafka(config, logger);
  const progress = progressWriter(process.stderr);
  let last: Parameters<typeof progress.update>[0] | undefined;
  const privacy = await openPrivacyVault(config.privacy);
  const opener = new ChatEventOpener(privacy?.vault ?? null, { service: 'analytics' });
  const result = await rebuild(analyticsConsumer(config, opener), {
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
