/**
 * A worker's shutdown: stop taking jobs, let the running ones finish within `graceMs`, then abort
 * those still running with ShutdownAbort (their jobs are retried elsewhere; nothing is committed).
 * Shared by the ChatWorker and the ImageWorker.
 */
import type { Worker } from "bullmq";
import type { Logger } from "../src/logger.ts";
import { ShutdownAbort } from "./chatWorkerTypes.ts";

export async function closeWithGrace(
  worker: Worker | undefined | ReadonlyArray<Worker | undefined>,
  active: ReadonlyMap<string, AbortController>,
  graceMs: number,
  log: Logger,
  what: "replies" | "images",
): Promise<void> {
  const closing = Promise.all((Array.isArray(worker) ? worker : [worker]).map((w: Worker | undefined) => w?.close()));
  let timer: NodeJS.Timeout | undefined;
  if (Number.isFinite(graceMs)) {
    timer = setTimeout(() => {
      if (active.size > 0) log.warn({ [what]: active.size }, `shutdown grace period over: interrupting running ${what}`);
      for (const c of active.values()) c.abort(new ShutdownAbort());
    }, graceMs);
  }
  await closing;
  clearTimeout(timer);
}
