/**
 * `npm run worker`: one worker process — loads the model once, answers jobs from Redis until
 * SIGINT/SIGTERM, then finishes what it is doing and exits.
 */
import { loadConfig } from "../src/config.ts";
import { Keys } from "../src/keys.ts";
import { loggerFromConfig } from "../src/logger.ts";
import { startOps } from "../src/ops/startOps.ts";
import { createRedis } from "../src/redisConnection.ts";
import { runMain } from "./runMain.ts";
import { platformSinks } from "./wiring/platformSinks.ts";
import { type RunningWorker, startWorker } from "./wiring/startWorker.ts";

runMain(async () => {
  const config = loadConfig();
  const logger = loggerFromConfig(config, "worker");
  // /healthz, /readyz and /metrics on METRICS_PORT (when set), up while the model loads.
  const ops = await startOps({ config, logger });
  let running: RunningWorker | undefined;
  let stopping = false;
  ops?.addCheck("model", () => (stopping ? "shutting down" : running ? undefined : "loading the model"));
  const sinkRedis = createRedis(config.REDIS_URL, "worker");
  running = await startWorker({
    config,
    logger,
    sinks: await platformSinks(config, logger, sinkRedis, new Keys(config.REDIS_PREFIX)),
    progress: process.stderr.isTTY === true,
    report: (line) => logger.info(`model download: ${line.trim()}`),
    metrics: ops?.metrics,
  });
  await new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      logger.info({ signal }, "shutting down: finishing running replies");
      stopping = true;
      resolve();
    };
    process.once("SIGINT", stop);
    process.once("SIGTERM", stop);
  });
  await running.close();
  sinkRedis.disconnect();
  await ops?.close();
  logger.info("worker stopped");
  return 0;
});
