/**
 * The workers of one process, by role (WORKER_ROLES; unset: text, plus images when IMAGE_ENGINE
 * is set): `text` is the ChatWorker with the model (startWorker), `images` the ImageWorker with
 * the image engine (startImageWorker, no model). `npm run worker` and `npm start` run what the
 * configuration asks for; closing stops both with the same grace period.
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
  const text = roles.includes("text") ? await startWorker(opts) : undefined;
  let images: RunningImageWorker | undefined;
  try {
    if (roles.includes("images")) {
      images = await startImageWorker({
        config: opts.config,
        logger: opts.logger,
        sinks: opts.sinks,
        metrics: opts.metrics,
        imageMetrics: opts.imageMetrics,
        ...(opts.sweepIntervalMs === undefined ? {} : { settings: { sweepIntervalMs: opts.sweepIntervalMs } }),
      });
    }
  } catch (err) {
    await text?.close(0);
    throw err;
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
