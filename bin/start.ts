/**
 * `npm start`: the adapters whose credentials are configured, plus a worker in the same process
 * serving WORKER_ROLES (set EXTERNAL_WORKERS=true to run workers separately with `npm run worker`).
 * With no platform configured it explains how to configure one and points to `npm run chat`.
 */
import { loadConfig } from "../src/config.ts";
import { workerRoles } from "../src/images/imageQueueSettings.ts";
import type { AdapterDeps, RunningAdapter } from "../src/intake/AdapterDeps.ts";
import { ImagineIntake, imagineIntakeOptionsFrom } from "../src/intake/ImagineIntake.ts";
import { Keys } from "../src/keys.ts";
import { loggerFromConfig } from "../src/logger.ts";
import { ConversationMemory } from "../src/memory/ConversationMemory.ts";
import { startOps } from "../src/ops/startOps.ts";
import { createChatQueue, Ingestor, ingestOptionsFrom } from "../src/queue/Ingestor.ts";
import { createImageQueue } from "../src/queue/imageQueue.ts";
import { connectRedis, createRedis } from "../src/redisConnection.ts";
import { SettingsStore } from "../src/settings/SettingsStore.ts";
import { settingsOptionsFrom } from "../src/settings/settingsCatalog.ts";
import type { Engine } from "../workers/engine/Engine.ts";
import { runMain } from "./runMain.ts";
import { platformSinks } from "./wiring/platformSinks.ts";
import { startPlatformAdapters } from "./wiring/startPlatformAdapters.ts";
import { engineReadiness } from "./wiring/startWorker.ts";
import { type RunningWorkers, startWorkerRoles } from "./wiring/startWorkerRoles.ts";

const HOW_TO = `qwenbot: no chat platform is configured.

  Discord: set DISCORD_TOKEN (README, "Discord").
  Slack:   set SLACK_BOT_TOKEN plus SLACK_APP_TOKEN (Socket Mode) or SLACK_SIGNING_SECRET (HTTP mode) (README, "Slack").

To talk to the bot in this terminal right now:  npm run chat
`;

runMain(async () => {
  const config = loadConfig();
  if (!config.DISCORD_TOKEN && !config.SLACK_BOT_TOKEN) {
    process.stdout.write(HOW_TO);
    return 0;
  }
  const logger = loggerFromConfig(config);
  // /healthz, /readyz and /metrics on METRICS_PORT (when set).
  const ops = await startOps({ config, logger });
  let adapters: RunningAdapter[] | undefined;
  let worker: RunningWorkers | undefined;
  let stopping = false;
  let engine: Engine | undefined;
  ops?.addCheck("platforms", () => {
    if (stopping) return "shutting down";
    if (!adapters) return "starting";
    if (adapters.length === 0) return "no platform adapter started";
    const down = adapters.filter((a) => !a.ready()).map((a) => `${a.platform} not connected`);
    return down.length > 0 ? down.join(", ") : undefined;
  });
  if (!config.EXTERNAL_WORKERS && workerRoles(config).includes("text"))
    ops?.addCheck("model", () => engineReadiness(engine, worker !== undefined));
  const keys = new Keys(config.REDIS_PREFIX);
  const redis = createRedis(config.REDIS_URL, "producer");
  await connectRedis(redis, config.REDIS_URL);
  const queue = createChatQueue(redis, keys);
  const ingestor = new Ingestor(redis, queue, keys, ingestOptionsFrom(config, { rateLimit: true }));
  const imageQueue = createImageQueue(redis, keys);
  const instrument = ops ? <I extends Pick<Ingestor, "ingest">>(i: I) => ops.metrics.instrumentIngestor(i) : undefined;
  const deps: AdapterDeps = {
    config,
    logger,
    redis,
    keys,
    ingestor: ops ? ops.metrics.instrumentIngestor(ingestor) : ingestor,
    memory: new ConversationMemory(redis, keys, config.MEMORY_TTL_SECONDS),
    imagine: new ImagineIntake(
      { redis, keys, queue: imageQueue, logger, instrument },
      imagineIntakeOptionsFrom(config, { rateLimit: true }),
    ),
    settings: new SettingsStore(redis, keys, settingsOptionsFrom(config), logger),
  };
  if (!config.EXTERNAL_WORKERS) {
    worker = await startWorkerRoles({
      config,
      logger,
      sinks: await platformSinks(config, logger, redis, keys),
      progress: process.stderr.isTTY === true,
      metrics: ops?.metrics,
      imageMetrics: ops?.images,
      onEngine: (e) => {
        engine = e;
      },
    });
  }
  adapters = await startPlatformAdapters(deps);
  await new Promise<void>((resolve) => {
    process.once("SIGINT", () => resolve());
    process.once("SIGTERM", () => resolve());
  });
  logger.info("shutting down");
  stopping = true;
  for (const a of adapters) await a.close();
  await worker?.close();
  await queue.close();
  await imageQueue.close();
  redis.disconnect();
  await ops?.close();
  return 0;
});
