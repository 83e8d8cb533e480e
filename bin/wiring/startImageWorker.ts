/**
 * An image worker, wired from the config: Redis connections, the image engine (IMAGE_ENGINE), the
 * reply sinks (the local one always, the platforms' when given), metrics and the heartbeat that
 * `npm run status` reads. No model is loaded: the engine does the work. Used by `npm run worker`
 * and `npm start` (WORKER_ROLES), `npm run imagine`, and tests.
 */
import type { Queue } from "bullmq";
import type { Redis } from "ioredis";
import type { Config } from "../../src/config.ts";
import { Keys } from "../../src/keys.ts";
import type { Logger } from "../../src/logger.ts";
import type { ImageMetrics } from "../../src/ops/imageMetrics.ts";
import { recordImageWorkerStats } from "../../src/ops/imageStats.ts";
import type { Metrics } from "../../src/ops/metrics.ts";
import { createImageQueue } from "../../src/queue/imageQueue.ts";
import { connectRedis, createRedis } from "../../src/redisConnection.ts";
import { RedisStreamSink } from "../../src/stream/RedisStreamSink.ts";
import type { Platform, ReplySink } from "../../src/types.ts";
import { createImageEngine } from "../../workers/images/createImageEngine.ts";
import type { ImageEngine } from "../../workers/images/ImageEngine.ts";
import { ImageWorker, type ImageWorkerSettings } from "../../workers/images/ImageWorker.ts";

export interface RunningImageWorker {
  worker: ImageWorker;
  engine: ImageEngine;
  queue: Queue;
  redis: Redis;
  /** Graceful: running images get `graceMs` (default SHUTDOWN_GRACE_MS) to finish, then are requeued. */
  close(graceMs?: number): Promise<void>;
}

export interface StartImageWorkerOptions {
  config: Config;
  logger: Logger;
  /** Platform sinks (Discord, Slack) in addition to the local one. */
  sinks?: Partial<Record<Platform, ReplySink>>;
  /** Another engine than IMAGE_ENGINE's (tests); closed by the caller. */
  engine?: ImageEngine;
  /** Count sink updates and errors here. */
  metrics?: Metrics;
  /** Count pictures, generation time and images in flight here. */
  imageMetrics?: ImageMetrics;
  /** Settings the configuration has no variable for (tests: short retry waits, a fast sweeper). */
  settings?: Partial<Pick<ImageWorkerSettings, "sweepIntervalMs" | "engineRetryDelaysMs" | "resultTtlSeconds">>;
}

export async function startImageWorker(opts: StartImageWorkerOptions): Promise<RunningImageWorker> {
  const { config, logger } = opts;
  const keys = new Keys(config.REDIS_PREFIX);
  const redis = createRedis(config.REDIS_URL, "worker");
  await connectRedis(redis, config.REDIS_URL);
  const bullConnection = createRedis(config.REDIS_URL, "worker");
  const subscriber = createRedis(config.REDIS_URL, "worker");
  const queue = createImageQueue(redis, keys);
  const engine = opts.engine ?? createImageEngine(config, { logger });
  if (engine.kind === "none")
    logger.warn("this worker serves images but IMAGE_ENGINE is none: every /imagine is answered with how to set one up");
  const sinks = { local: new RedisStreamSink(redis, keys), ...opts.sinks };
  const worker = new ImageWorker(
    { bullConnection, redis, subscriber, queue, keys, engine, sinks: opts.metrics ? opts.metrics.instrumentSinks(sinks) : sinks, logger },
    {
      concurrency: config.IMAGE_CONCURRENCY,
      lockMs: config.JOB_LOCK_MS,
      memoryTtlSeconds: config.MEMORY_TTL_SECONDS,
      updateIntervalMs: config.IMAGE_UPDATE_INTERVAL_MS,
      localUpdateIntervalMs: config.LOCAL_STREAM_INTERVAL_MS,
      timeoutMs: config.IMAGE_TIMEOUT_MS,
      ...opts.settings,
    },
  );
  await worker.start();
  opts.imageMetrics?.watchWorker(worker);
  const stats = recordImageWorkerStats({ worker, engine: engine.kind, redis, keys, logger });
  return {
    worker,
    engine,
    queue,
    redis,
    async close(graceMs?: number) {
      await worker.close(graceMs ?? config.SHUTDOWN_GRACE_MS);
      await stats.stop();
      await queue.close();
      if (!opts.engine) await engine.close();
      for (const c of [redis, bullConnection, subscriber]) c.disconnect();
    },
  };
}
