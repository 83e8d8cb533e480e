/**
 * `npm run worker`: one worker process — loads the model once, answers jobs from Redis until
 * SIGINT/SIGTERM, then finishes what it is doing and exits.
 */
import { loadConfig } from "../src/config.ts";
import { Keys } from "../src/keys.ts";
import { createRedis } from "../src/redisConnection.ts";
import { loggerFromConfig } from "../src/logger.ts";
import { runMain } from "../src/runMain.ts";
import { startWorker } from "./startWorker.ts";
import { platformSinks } from "./platformSinks.ts";

runMain(async () => {
  const config = loadConfig();
  const logger = loggerFromConfig(config, "worker");
  const sinkRedis = createRedis(config.REDIS_URL, "worker");
  const running = await startWorker({
    config,
    logger,
    sinks: await platformSinks(config, logger, sinkRedis, new Keys(config.REDIS_PREFIX)),
    progress: process.stderr.isTTY === true,
  });
  await new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      logger.info({ signal }, "shutting down: finishing running replies");
      resolve();
    };
    process.once("SIGINT", stop);
    process.once("SIGTERM", stop);
  });
  await running.close();
  sinkRedis.disconnect();
  logger.info("worker stopped");
  return 0;
});
