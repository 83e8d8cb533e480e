/**
 * Set up a terminal session: Redis (checked first, failing fast), an in-process worker unless
 * external workers are asked for, and a LocalChatClient for one room.
 */

import { LocalChatClient } from "../../adapters/local/LocalChatClient.ts";
import type { Config } from "../../src/config.ts";
import { Keys } from "../../src/keys.ts";
import { createLogger, type Logger, secretValues } from "../../src/logger.ts";
import { createChatQueue, Ingestor, ingestOptionsFrom } from "../../src/queue/Ingestor.ts";
import { connectRedis, createRedis } from "../../src/redisConnection.ts";
import { type RunningWorker, startWorker } from "./startWorker.ts";

export interface LocalSession {
  client: LocalChatClient;
  logger: Logger;
  close(): Promise<void>;
}

/** Terminal surfaces keep stdout for the conversation: logs go to stderr, warnings and up by default. */
export function terminalLogger(config: Config): Logger {
  const level = config.LOG_LEVEL === "info" ? "warn" : config.LOG_LEVEL;
  return createLogger({ level, secrets: secretValues(config), destination: process.stderr as unknown as import("pino").DestinationStream });
}

export async function openLocalSession(opts: {
  config: Config;
  room: string;
  external: boolean;
  onStatus?: (line: string) => void;
}): Promise<LocalSession> {
  const { config } = opts;
  const logger = terminalLogger(config);
  const keys = new Keys(config.REDIS_PREFIX);
  const redis = createRedis(config.REDIS_URL, "producer");
  await connectRedis(redis, config.REDIS_URL);
  const blocking = createRedis(config.REDIS_URL, "worker");
  const queue = createChatQueue(redis, keys);
  let running: RunningWorker | undefined;
  try {
    if (!opts.external) {
      opts.onStatus?.(`Loading model ${config.MODEL} …`);
      const tty = process.stderr.isTTY === true;
      running = await startWorker({ config, logger, progress: tty, report: tty ? undefined : opts.onStatus });
    } else if ((await queue.getWorkers()).length === 0) {
      opts.onStatus?.("No workers are running yet: start one with `npm run worker` (messages wait in Redis until then).");
    }
  } catch (err) {
    await queue.close();
    redis.disconnect();
    blocking.disconnect();
    throw err;
  }
  const ingestor = new Ingestor(redis, queue, keys, ingestOptionsFrom(config, { rateLimit: false }));
  const client = new LocalChatClient({ redis, blocking, keys, ingestor, memoryTtlSeconds: config.MEMORY_TTL_SECONDS, logger }, opts.room);
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
