import type { Logger } from 'pino';
import type { IngestConfig } from '../config.js';
import type { IngestMetrics } from '../metrics.js';
import { DiskSpool } from './disk-spool.js';

/** Opens INGEST_SPOOL_DIR (lock, recovery) with the ingest's log lines and metrics for what the spool reports. */
export async function openSpool(
  config: IngestConfig,
  logger: Logger,
  metrics: IngestMetrics,
): Promise<DiskSpool> {
  const spoolConfig = config.spool;
  if (spoolConfig === undefined) throw new Error('openSpool needs INGEST_SPOOL_DIR');
  const spool = await DiskSpool.open({
    dir: spoolConfig.dir,
    maxBytes: spoolConfig.maxBytes,
    segmentBytes: spoolConfig.segmentBytes,
    onEvent: (event) => {
      if (event.kind === 'recovered') {
        metrics.spool.recoveryTornBytes.inc(event.tornBytes);
        const fields = {
          dir: spoolConfig.dir,
          segments: event.segments,
          records: event.records,
          bytes: event.bytes,
          torn_bytes: event.tornBytes,
          corrupt_records: event.corruptRecords,
          lost_bytes: event.lostBytes,
        };
        if (event.corruptRecords > 0) {
          logger.error(
            fields,
            'spool recovered with corrupt records removed: acknowledged webhooks were lost',
          );
        } else {
          logger.info(fields, 'spool recovered');
        }
      } else {
        metrics.spool.recoveryLostRecords.inc();
        logger.error(
          {
            segment: event.segment,
            offset: event.offset,
            reason: event.reason,
            action: event.action,
            lost_bytes: event.lostBytes,
          },
          event.action === 'skipped_record'
            ? 'spool segment corrupt in the middle: one record skipped (an acknowledged webhook is lost)'
            : 'spool segment corrupt in the middle: the rest of the segment cut off (acknowledged webhooks are lost)',
        );
      }
    },
    onCommit: ({ records, durationMs }) => {
      metrics.spool.groupRecords.observe(records);
      metrics.spool.commitLatency.observe(durationMs / 1000);
    },
  });
  metrics.spool.bytes.set(spool.bytes);
  metrics.spool.records.set(spool.records);
  return spool;
}
