/**
 * What an image worker records in Redis for `npm run status`, beside the text workers' records
 * (src/ops/workerStats.ts, same keys): per minute, `images` (pictures delivered, whole or
 * stopped), `image_failures` and `image_ms` (their generation time) in the minute's stats hash; and
 * a heartbeat row in the live-worker set with `role` images, the engine kind as its model and its
 * concurrency as its sequences.
 */
import os from "node:os";
import type { Redis } from "ioredis";
import type { Keys } from "../keys.ts";
import type { Logger } from "../logger.ts";
import type { ImageStats, ObservedImageWorker } from "./imageMetrics.ts";
import { epochMinute, type WorkerStats } from "./workerStats.ts";

const STATS_TTL_SECONDS = 2 * 3600;
const DEFAULT_HEARTBEAT_MS = 10_000;

export interface ImageWorkerStatsOptions {
  worker: ObservedImageWorker;
  /** The engine kind (a1111, openai, none), shown as the worker's model. */
  engine: string;
  redis: Redis;
  keys: Keys;
  logger?: Logger;
  heartbeatMs?: number;
}

export function recordImageWorkerStats(opts: ImageWorkerStatsOptions): WorkerStats {
  const { worker, redis, keys } = opts;
  const heartbeatMs = opts.heartbeatMs ?? DEFAULT_HEARTBEAT_MS;
  const ttlSeconds = Math.max(1, Math.ceil((heartbeatMs * 3) / 1000));
  const warn = (err: unknown, what: string) => opts.logger?.debug({ err }, `could not record ${what}`);

  const onImage = (e: ImageStats) => {
    const key = keys.statsMinute(epochMinute(Date.now()));
    const m = redis.multi();
    if (e.outcome === "done" || e.outcome === "stopped") m.hincrby(key, "images", 1).hincrby(key, "image_ms", Math.round(e.elapsedMs));
    else if (e.outcome === "failed") m.hincrby(key, "image_failures", 1);
    else return;
    m.expire(key, STATS_TTL_SECONDS)
      .exec()
      .catch((err: unknown) => warn(err, "image throughput"));
  };
  worker.on("image", onImage);

  const startedAt = Date.now();
  const beat = () => {
    const now = Date.now();
    redis
      .multi()
      .hset(keys.worker(worker.id), {
        host: os.hostname(),
        pid: String(process.pid),
        role: "images",
        model: opts.engine,
        gpu: "-",
        sequences: String(worker.concurrency),
        inFlight: String(worker.inFlight),
        startedAt: String(startedAt),
        seenAt: String(now),
      })
      .expire(keys.worker(worker.id), ttlSeconds)
      .zadd(keys.workers, now, worker.id)
      .zremrangebyscore(keys.workers, "-inf", now - ttlSeconds * 1000)
      .exec()
      .catch((err: unknown) => warn(err, "heartbeat"));
  };
  beat();
  const timer = setInterval(beat, heartbeatMs);
  timer.unref();

  return {
    async stop() {
      clearInterval(timer);
      worker.off("image", onImage);
      await redis
        .multi()
        .zrem(keys.workers, worker.id)
        .del(keys.worker(worker.id))
        .exec()
        .catch((err: unknown) => warn(err, "worker exit"));
    },
  };
}
