/**
 * Download progress as plain lines, for readers without a terminal progress bar (logs, pipes,
 * CI): a line at every 10 %, and at least every 15 s while bytes arrive, so a slow download is
 * never silent.
 */

interface DownloadProgress {
  totalSize: number;
  downloadedSize: number;
}

function mib(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

/** An `onProgress` callback that writes `  30%  120.0 MiB of 379.4 MiB` lines through `write`. */
export function progressLines(write: (line: string) => void, opts: { everyMs?: number; now?: () => number } = {}) {
  const now = opts.now ?? Date.now;
  const everyMs = opts.everyMs ?? 15_000;
  let lastTenth = -1;
  let lastAt = now();
  return ({ totalSize, downloadedSize }: DownloadProgress): void => {
    if (totalSize <= 0) return;
    const tenth = Math.floor((downloadedSize / totalSize) * 10);
    if (tenth === lastTenth && now() - lastAt < everyMs) return;
    lastTenth = tenth;
    lastAt = now();
    const pct = Math.floor((downloadedSize / totalSize) * 100);
    write(`  ${String(pct).padStart(3)}%  ${mib(downloadedSize)} of ${mib(totalSize)}`);
  };
}
