/**
 * Set up a terminal session: Redis (the configured one, or a private one started for the session
 * — see localRedis.ts — checked first, failing fast), an in-process worker unless external workers
 * are asked for, and a LocalChatClient for one room. The worker's modules (node-llama-cpp, seconds
 * to import) are loaded only when this process runs the worker.
 */

import { LocalChatClient } from "../../adapters/local/LocalChatClient.ts";
import type { Config } from "../../src/config.ts";
import { Keys } from "../../src/keys.ts";
import { createLogger, type Logger, secretValues } from "../../src/logger.ts";
import { createChatQueue, Ingestor, ingestOptionsFrom } from "../../src/queue/Ingestor.ts";
import { connectRedis, createRedis } from "../../src/redisConnection.ts";
import type { Engine } from "../../workers/engine/Engine.ts";
import { ensureLocalRedis } from "./localRedis.ts";
import type { RunningWorker } from "./startWorker.ts";

export interface LocalSession {
  client: LocalChatClient;
  logger: Logger;
  /** Whether the session's Redis connection is up (false while Redis is away). */
  redisUp(): boolean;
  /**
   * Close in order: the in-process worker gets `graceMs` (default SHUTDOWN_GRACE_MS) to finish a
   * running reply, else puts it back in the queue with a note; then the private Redis stops.
   */
  close(opts?: { graceMs?: number }): Promise<void>;
  /** Signal the private Redis at once (a second Ctrl-C, process exit). */
  killNow(): void;
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
  const say = (line: string) => opts.onStatus?.(line);
  const logger = terminalLogger(config);
  const keys = new Keys(config.REDIS_PREFIX);
  const local = await ensureLocalRedis(config);
  if (local.status) say(local.status);
  const onExit = () => local.killNow();
  process.on("exit", onExit);
  const redis = createRedis(config.REDIS_URL, "producer");
  const blocking = createRedis(config.REDIS_URL, "worker");
  let up = false;
  redis.on("ready", () => (up = true)).on("close", () => (up = false));
  const cleanUp = async (queue?: { close(): Promise<void> }) => {
    await queue?.close();
    redis.disconnect();
    blocking.disconnect();
    await local.release(say);
    process.off("exit", onExit);
  };
  try {
    await connectRedis(redis, config.REDIS_URL);
  } catch (err) {
    await cleanUp();
    throw err;
  }
  const queue = createChatQueue(redis, keys);
  let running: RunningWorker | undefined;
  try {
    if (!opts.external) {
      say(
        config.ENGINE === "openai" && config.OPENAI_BASE_URL
          ? `Connecting to the model server at ${new URL(config.OPENAI_BASE_URL).host} …`
          : `Loading model ${config.MODEL} …`,
      );
      const tty = process.stderr.isTTY === true;
      const { startWorker } = await import("./startWorker.ts");
      // A model server that does not answer is waited for: say so once, rather than hang silently.
      let engine: Engine | undefined;
      const slow = setTimeout(() => {
        const why = engine?.readiness();
        if (why && engine?.kind === "openai") say(`${why} — waiting for it (Ctrl-C to give up)`);
      }, 3000);
      running = await startWorker({
        config,
        logger,
        progress: tty,
        report: tty ? undefined : say,
        onEngine: (e) => {
          engine = e;
        },
      }).finally(() => clearTimeout(slow));
    } else if ((await queue.getWorkers()).length === 0) {
      say("No workers are running yet: start one with `npm run worker` (messages wait in Redis until then).");
    }
  } catch (err) {
    await cleanUp(queue);
    throw err;
  }
  const ingestor = new Ingestor(redis, queue, keys, ingestOptionsFrom(config, { rateLimit: false }));
  const client = new LocalChatClient({ redis, blocking, keys, ingestor, memoryTtlSeconds: config.MEMORY_TTL_SECONDS, logger }, opts.room);
  let closed: Promise<void> | undefined;
  return {
    client,
    logger,
    redisUp: () => up,
    close(closeOpts = {}) {
      closed ??= (async () => {
        await running?.close(closeOpts.graceMs);
        await cleanUp(queue);
      })();
      return closed;
    },
    killNow: () => local.killNow(),
  };
}
