/**
 * Set up a terminal /imagine: Redis (checked first, failing fast), an in-process image worker
 * unless external workers are asked for (no model: the image engine does the work), and a
 * LocalImagineClient for one room.
 */
import { LocalImagineClient } from "../../adapters/local/LocalImagineClient.ts";
import type { Config } from "../../src/config.ts";
import { ImagineIntake, imagineIntakeOptionsFrom } from "../../src/intake/ImagineIntake.ts";
import { Keys } from "../../src/keys.ts";
import type { Logger } from "../../src/logger.ts";
import { createImageQueue } from "../../src/queue/imageQueue.ts";
import { connectRedis, createRedis } from "../../src/redisConnection.ts";
import { terminalLogger } from "./openLocalSession.ts";
import { type RunningImageWorker, startImageWorker } from "./startImageWorker.ts";

export interface ImagineSession {
  client: LocalImagineClient;
  logger: Logger;
  close(): Promise<void>;
}

export async function openImagineSession(opts: {
  config: Config;
  room: string;
  external: boolean;
  onStatus?: (line: string) => void;
}): Promise<ImagineSession> {
  const { config } = opts;
  const logger = terminalLogger(config);
  const keys = new Keys(config.REDIS_PREFIX);
  const redis = createRedis(config.REDIS_URL, "producer");
  await connectRedis(redis, config.REDIS_URL);
  const blocking = createRedis(config.REDIS_URL, "worker");
  const queue = createImageQueue(redis, keys);
  let running: RunningImageWorker | undefined;
  try {
    // With no engine the intake refuses at once (saying how to set one up): no worker needed.
    if (!opts.external && config.IMAGE_ENGINE !== "none") running = await startImageWorker({ config, logger });
    else if (opts.external && (await queue.getWorkers().catch(() => [null])).length === 0) {
      opts.onStatus?.(
        "No image workers are running yet: start one with `npm run worker` (WORKER_ROLES=images; requests wait in Redis until then).",
      );
    }
  } catch (err) {
    await queue.close();
    redis.disconnect();
    blocking.disconnect();
    throw err;
  }
  const intake = new ImagineIntake({ redis, keys, queue, logger }, imagineIntakeOptionsFrom(config, { rateLimit: false }));
  const client = new LocalImagineClient({ redis, blocking, keys, intake }, opts.room);
  return {
    client,
    logger,
    async close() {
      await running?.close();
      await queue.close();
      redis.disconnect();
      blocking.disconnect();
    },
  };
}
