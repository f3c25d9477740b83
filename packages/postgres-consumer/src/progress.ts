export interface ProgressSnapshot {
  readonly done: number;
  readonly total: number;
  /** Events per second since the run started (not counting what an earlier, interrupted run did). */
  readonly ratePerSec: number;
  /** Seconds left at the current rate; null while the rate is unknown. */
  readonly etaSeconds: number | null;
  readonly elapsedMs: number;
}

/** Derives rate and ETA from two counts and the time between them. Pure. */
export function progressSnapshot(
  done: number,
  total: number,
  doneAtStart: number,
  elapsedMs: number,
): ProgressSnapshot {
  const ratePerSec = elapsedMs > 0 ? ((done - doneAtStart) * 1000) / elapsedMs : 0;
  const left = Math.max(0, total - done);
  const etaSeconds = left === 0 ? 0 : ratePerSec > 0 ? left / ratePerSec : null;
  return { done, total, ratePerSec, etaSeconds, elapsedMs };
}

function duration(seconds: number): string {
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${sec}` : `${m}:${sec}`;
}

/** One line: `[#####.....] 5234/10000 52.3% 1234 ev/s ETA 0:04`. Pure. */
export function renderProgressBar(p: ProgressSnapshot, width = 30): string {
  const ratio = p.total > 0 ? Math.min(1, p.done / p.total) : 1;
  const filled = Math.round(ratio * width);
  const bar = `${'#'.repeat(filled)}${'.'.repeat(width - filled)}`;
  const eta = p.etaSeconds === null ? '--:--' : duration(p.etaSeconds);
  return `[${bar}] ${p.done}/${p.total} ${(ratio * 100).toFixed(1)}% ${Math.round(p.ratePerSec)} ev/s ETA ${eta}`;
}

/**
 * Draws the bar on a stream: redrawn in place on a terminal, one line every `lineEveryMs`
 * otherwise (CI logs must not fill with carriage returns).
 */
export function progressWriter(
  stream: NodeJS.WriteStream,
  opts: { lineEveryMs?: number } = {},
): { update(p: ProgressSnapshot): void; finish(p: ProgressSnapshot): void } {
  let lastLine = 0;
  const lineEveryMs = opts.lineEveryMs ?? 2_000;
  return {
    update(p) {
      if (stream.isTTY) {
        stream.write(`\r\x1b[2K${renderProgressBar(p)}`);
      } else if (Date.now() - lastLine >= lineEveryMs) {
        lastLine = Date.now();
        stream.write(`${renderProgressBar(p)}\n`);
      }
    },
    finish(p) {
      stream.write(`${stream.isTTY ? '\r\x1b[2K' : ''}${renderProgressBar(p)}\n`);
    },
  };
}
