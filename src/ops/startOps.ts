/**
 * Operations for an entry point (`npm start`, `npm run worker`): when METRICS_PORT is set, a
 * Metrics registry and the health server on METRICS_HOST:METRICS_PORT, with a Redis readiness
 * check and queue/inbox gauges read through their own fail-fast Redis connection. The entry
 * point adds its own checks (model loaded, platforms connected) and passes `metrics` on.
 */
import type { Queue } from "bullmq";
import type { Redis } from "ioredis";
import type { Config } from "../config.ts";
import { Keys } from "../keys.ts";
import type { Logger } from "../logger.ts";
import { createChatQueue } from "../queue/Ingestor.ts";
import { createImageQueue } from "../queue/imageQueue.ts";
import { createRedis } from "../redisConnection.ts";
import { type HealthServer, type ReadinessCheck, redisCheck, startHealthServer } from "./healthServer.ts";
import { ImageMetrics } from "./imageMetrics.ts";
import { Metrics } from "./metrics.ts";

export interface Ops {
  metrics: Metrics;
  /** /imagine: image queue and inboxes, pictures, generation time (same registry). */
  images: ImageMetrics;
  server: HealthServer;
  addCheck(name: string, check: ReadinessCheck): void;
  close(): Promise<void>;
}

export interface StartOpsOptions {
  config: Pick<Config, "METRICS_PORT" | "METRICS_HOST" | "REDIS_URL" | "REDIS_PREFIX">;
  logger: Logger;
  /** Override METRICS_PORT (tests: 0 for an ephemeral port). */
  port?: number;
}

/** Start metrics and health endpoints, or return undefined when METRICS_PORT is not set. */
export async function startOps(opts: StartOpsOptions): Promise<Ops | undefined> {
  const port = opts.port ?? opts.config.METRICS_PORT;
  if (port === undefined) return undefined;
  const keys = new Keys(opts.config.REDIS_PREFIX);
  const redis: Redis = createRedis(opts.config.REDIS_URL, "producer");
  redis.connect().catch(() => {
    /* reported by /readyz; ioredis keeps retrying */
  });
  const queue: Queue = createChatQueue(redis, keys);
  queue.on("error", () => {});
  const imageQueue: Queue = createImageQueue(redis, keys);
  imageQueue.on("error", () => {});
  const metrics = new Metrics();
  metrics.watchQueue({ queue, redis, keys });
  const images = new ImageMetrics(metrics);
  images.watchQueue({ queue: imageQueue, redis, keys });
  let server: HealthServer;
  try {
    server = await startHealthServer({
      port,
      host: opts.config.METRICS_HOST,
      metrics,
      checks: { redis: redisCheck(redis) },
      logger: opts.logger,
    });
  } catch (err) {
    await queue.close().catch(() => {});
    await imageQueue.close().catch(() => {});
    redis.disconnect();
    throw err;
  }
  return {
    metrics,
    images,
    server,
    addCheck: (name, check) => server.addCheck(name, check),
    async close() {
      await server.close();
      await queue.close().catch(() => {});
      await imageQueue.close().catch(() => {});
      redis.disconnect();
    },
  };
}
