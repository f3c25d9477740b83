/**
 * pnpm crm rebuild (or pnpm --filter @livechat-pipeline/crm-sync run rebuild) — truncates crm-sync's projection tables (chats, customers, participants, threads, thread_tags,
 * entries), its dedup records and offsets, then replays livechat.chat-events from the earliest offsets with a
 * progress bar. The outbox, crm.notes, crm.erased_chats and crm.hubspot_erasures stay (a rebuilt thread updates its
 * note; an erased chat makes no intent). Interrupted, run it again: it resumes. Stop the live crm-sync consumer
 * first. Sealed events are opened as the service opens them (PRIVACY_KEYS): an erased chat's rows come back
 * without their personal values.
 */
import { pathToFileURL } from 'node:url';
import { createServiceLogger } from '@livechat-pipeline/service-host';
import { progressWriter, rebuild } from '@livechat-pipeline/postgres-consumer';
import { loadCrmSyncConfig } from './config.js';
import { consumerOptions, createCrmKafka, crmConsumer } from './consumer.js';
import { ChatEventOpener, openCrmPrivacyVault } from './privacy.js';

/** The rebuild, configured from `env` as the service is (CRM_*, PRIVACY_*). */
export async function rebuildCrm(env: NodeJS.ProcessEnv): Promise<void> {
  const config = loadCrmSyncConfig(env);
  const logger = createServiceLogger({ service: 'crm-sync-rebuild', level: 'warn' });
  const kafka = createCrmKafka(config, logger);
  const progress = progressWriter(process.stderr);
  let last: Parameters<typeof progress.update>[0] | undefined;
  const privacy = await openCrmPrivacyVault(config);
  const opener = new ChatEventOpener(privacy?.vault ?? null);
  const result = await rebuild(crmConsumer(config, opener), {
    ...consumerOptions(config, kafka, logger),
    onProgress: (snapshot) => progress.update((last = snapshot)),
  }).finally(() => privacy?.close());
  if (last !== undefined) progress.finish(last);
  process.stderr.write(
    `\nrebuilt ${config.schema} from ${result.total} events in ${(result.durationMs / 1000).toFixed(1)} s${result.resumed ? ' (resumed)' : ''}\n`,
  );
}

// Run as the entry point (the package's `rebuild` script); `pnpm crm rebuild` imports rebuildCrm instead.
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href)
  rebuildCrm(process.env).then(
    () => process.exit(0),
    (error: unknown) => {
      process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
      process.exit(1);
    },
  );
