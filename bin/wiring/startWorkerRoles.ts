/**
 * The workers of one process, by role (WORKER_ROLES; unset: text, plus images when IMAGE_ENGINE
 * is set): `text` is the ChatWorker with the model (startWorker), `images` the ImageWorker with
 * the image engine (startImageWorker, no model). `npm run worker` and `npm start` run what the
 * configuration asks for, started side by side; closing stops both with the same grace period.
 */
import { type WorkerRole, workerRoles } from "../../src/images/imageQueueSettings.ts";
import type { ImageMetrics } from "../../src/ops/imageMetrics.ts";
import { type RunningImageWorker, startImageWorker } from "./startImageWorker.ts";
import { type RunningWorker, type StartWorkerOptions, startWorker } from "./startWorker.ts";

export interface RunningWorkers {
  roles: WorkerRole[];
  text?: RunningWorker;
  images?: RunningImageWorker;
  /** Graceful, both roles at once (SHUTDOWN_GRACE_MS unless given). */
  close(graceMs?: number): Promise<void>;
}

export interface StartWorkerRolesOptions extends StartWorkerOptions {
  /** Override WORKER_ROLES. */
  roles?: WorkerRole[];
  imageMetrics?: ImageMetrics;
}

export async function startWorkerRoles(opts: StartWorkerRolesOptions): Promise<RunningWorkers> {
  const roles = opts.roles ?? workerRoles(opts.config);
  opts.logger.info({ roles }, "starting workers");
  // Side by side: the image worker does not wait for the text engine (a remote server may be slow to appear).
  const [textStart, imagesStart] = await Promise.allSettled([
    roles.includes("text") ? startWorker(opts) : undefined,
    roles.includes("images")
      ? startImageWorker({
          config: opts.config,
          logger: opts.logger,
          sinks: opts.sinks,
          metrics: opts.metrics,
          imageMetrics: opts.imageMetrics,
          ...(opts.sweepIntervalMs === undefined ? {} : { settings: { sweepIntervalMs: opts.sweepIntervalMs } }),
        })
      : undefined,
  ]);
  const text = textStart.status === "fulfilled" ? textStart.value : undefined;
  const images = imagesStart.status === "fulfilled" ? imagesStart.value : undefined;
  const failed = [textStart, imagesStart].find((r) => r.status === "rejected");
  if (failed) {
    await Promise.all([text?.close(0), images?.close(0)]);
    throw failed.reason;
  }
  return {
    roles,
    text,
    images,
    async close(graceMs?: number) {
      await Promise.all([text?.close(graceMs), images?.close(graceMs)]);
    },
  };
}
