/**
 * `npm run worker`: one worker process serving what WORKER_ROLES asks for — `text` loads the
 * model once and answers chat jobs, `images` drives the image engine for /imagine jobs (default:
 * text, plus images when IMAGE_ENGINE is set) — until SIGINT/SIGTERM, then finishes what it is
 * doing and exits. /readyz reports the model (or the remote engine: ENGINE=openai) and the image engine.
 */
import { loadConfig } from "../src/config.ts";
import { workerRoles } from "../src/images/imageQueueSettings.ts";
import { Keys } from "../src/keys.ts";
import { loggerFromConfig } from "../src/logger.ts";
import { startOps } from "../src/ops/startOps.ts";
import { createRedis } from "../src/redisConnection.ts";
import type { Engine } from "../workers/engine/Engine.ts";
import { runMain } from "./runMain.ts";
import { platformSinks } from "./wiring/platformSinks.ts";
import { engineReadiness } from "./wiring/startWorker.ts";
import { type RunningWorkers, startWorkerRoles } from "./wiring/startWorkerRoles.ts";

runMain(async () => {
  const config = loadConfig();
  const logger = loggerFromConfig(config, "worker");
  const roles = workerRoles(config);
  // /healthz, /readyz and /metrics on METRICS_PORT (when set), up while the model loads.
  const ops = await startOps({ config, logger });
  let running: RunningWorkers | undefined;
  let stopping = false;
  let engine: Engine | undefined;
  if (roles.includes("text"))
    ops?.addCheck("model", () => (stopping ? "shutting down" : engineReadiness(engine, running?.text !== undefined)));
  if (roles.includes("images")) {
    ops?.addCheck("image_engine", async () => {
      if (stopping) return "shutting down";
      if (!running?.images) return "starting";
      const r = await running.images.engine.readiness();
      return r.ready ? undefined : `image engine not ready: ${r.detail}`;
    });
  }
  const sinkRedis = createRedis(config.REDIS_URL, "worker");
  running = await startWorkerRoles({
    config,
    logger,
    roles,
    sinks: await platformSinks(config, logger, sinkRedis, new Keys(config.REDIS_PREFIX)),
    progress: process.stderr.isTTY === true,
    report: (line) => logger.info(`model download: ${line.trim()}`),
    metrics: ops?.metrics,
    imageMetrics: ops?.images,
    onEngine: (e) => {
      engine = e;
    },
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
